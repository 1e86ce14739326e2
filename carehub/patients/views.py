"""Patient pages. Each view checks the role first (403), then reaches the record through a
restricted selector (404, existence never revealed), and calls one service to write."""

from __future__ import annotations

from math import ceil

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from carehub.accounts import services as accounts
from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.core.decorators import role_required
from carehub.core.exceptions import NotFound, ServiceError
from carehub.patients import forms, selectors, services
from carehub.patients.policies import ADMINISTRATIVE_ROLES, MERGE_ROLES, SEARCH_ROLES


def _role(request: HttpRequest) -> str:
    return getattr(request.user, "role", "")


def _view_name(request: HttpRequest) -> str:
    return request.resolver_match.view_name if request.resolver_match else ""


def _detail(patient_or_id) -> str:
    public_id = getattr(patient_or_id, "public_id", patient_or_id)
    return reverse("patients:detail", kwargs={"public_id": public_id})


# --- the patient's own record ----------------------------------------------------------------


@require_GET
@role_required(Role.PATIENT)
def me(request: HttpRequest) -> HttpResponse:
    """The patient's home: details, consents and care team read-only, with links to change them
    (the forms have pages of their own, so the page most visited renders no form)."""
    overview = selectors.patient_self_overview(actor=request.user, view=_view_name(request))
    context = {
        "overview": overview,
        "patient": overview.patient,
        "has_mfa": accounts.user_has_mfa(user=request.user),  # type: ignore[arg-type]
    }
    return render(request, "patients/me.html", context)


@require_http_methods(["GET", "POST"])
@role_required(Role.PATIENT)
def me_details(request: HttpRequest) -> HttpResponse:
    """The contact details a patient may change themselves."""
    patient = selectors.patient_self_get(actor=request.user, view=_view_name(request))
    initial = forms.SelfServiceForm.initial_for(patient)
    if request.method == "GET":
        form = forms.SelfServiceForm(initial=initial)
    else:
        form = forms.SelfServiceForm(request.POST, initial=initial)
        if form.is_valid():
            try:
                services.patient_update(actor=request.user, patient=patient, **form.service_data())
            except ServiceError as exc:
                forms.apply_service_error(form, exc)
            else:
                messages.success(request, "Your details have been saved.")
                return redirect("patients:me")
    return render(request, "patients/me_details.html", {"form": form, "patient": patient})


@require_http_methods(["GET", "POST"])
@role_required(Role.PATIENT)
def me_consents(request: HttpRequest) -> HttpResponse:
    """The patient's consent answers, one checkbox each."""
    patient, rows = selectors.patient_self_consents(actor=request.user, view=_view_name(request))
    initial = forms.ConsentForm.initial_for(rows)
    if request.method == "GET":
        form = forms.ConsentForm(initial=initial)
    else:
        form = forms.ConsentForm(request.POST, initial=initial)
        if form.is_valid():
            try:
                changed = services.consents_update(
                    actor=request.user, patient=patient, answers=form.cleaned_data
                )
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    "Your consent choices have been saved." if changed else "Nothing changed.",
                )
                return redirect(reverse("patients:me") + "#consents")
    return render(
        request, "patients/me_consents.html", {"form": form, "patient": patient, "rows": rows}
    )


# --- staff: search, register, record, edit ---------------------------------------------------


@require_GET
@role_required(*SEARCH_ROLES)
def patient_list(request: HttpRequest) -> HttpResponse:
    form = forms.SearchForm(request.GET)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    # The search text is never logged or stored: it may be a name or an MRN.
    result = selectors.patient_search(actor=request.user, search=search, view=_view_name(request))
    return render(
        request,
        "patients/list.html",
        {
            "form": form,
            "searched": bool(search.strip()),
            "result": result,
            "is_clinician": _role(request) in CLINICIAN_ROLES,
            "can_register": _role(request) in ADMINISTRATIVE_ROLES,
        },
    )


@require_http_methods(["GET", "POST"])
@role_required(*ADMINISTRATIVE_ROLES)
def register(request: HttpRequest) -> HttpResponse:
    matches: list[selectors.DuplicatePreview] = []
    seen = ""
    if request.method == "GET":
        form = forms.PatientRegisterForm()
    else:
        form = forms.PatientRegisterForm(request.POST)
        if form.is_valid():
            data = form.service_data()
            matches = selectors.duplicate_preview(actor=request.user, data=data)
            shown = {str(m.patient.public_id) for m in matches}
            confirmed = (
                form.cleaned_data["confirm_not_duplicate"]
                and shown <= form.cleaned_data["seen_matches"]
            )
            if matches and not confirmed:
                seen = ",".join(sorted(shown))
                form.add_error(
                    "confirm_not_duplicate",
                    "This person may already have a record (see the list above). Open that "
                    "record instead, or tick this box if they are different people.",
                )
            else:
                try:
                    registration = services.patient_register(
                        actor=request.user, site=form.cleaned_data["site"], **data
                    )
                except ServiceError as exc:
                    forms.apply_service_error(form, exc)
                else:
                    patient = registration.patient
                    text = f"Registered {patient.full_name} with MRN {patient.mrn}."
                    if registration.duplicates:
                        count = len(registration.duplicates)
                        text += (
                            f" {count} possible duplicate record{'s' if count != 1 else ''} "
                            "flagged for an administrator to review."
                        )
                    messages.success(request, text)
                    return redirect(_detail(registration.patient))
    context = {"form": form, "matches": matches, "seen_matches": seen}
    return render(request, "patients/register.html", context)


@require_GET
@role_required(*SEARCH_ROLES)
def detail(request: HttpRequest, public_id) -> HttpResponse:
    overview = selectors.patient_overview(
        actor=request.user, public_id=public_id, view=_view_name(request)
    )
    is_admin = _role(request) in ADMINISTRATIVE_ROLES
    return render(
        request,
        "patients/detail.html",
        {
            "overview": overview,
            "patient": overview.patient,
            "can_edit": is_admin,
            "assign_form": forms.AssignPractitionerForm(actor=request.user) if is_admin else None,
        },
    )


@require_POST
@role_required(*ADMINISTRATIVE_ROLES)
def assign(request: HttpRequest, public_id) -> HttpResponse:
    patient = selectors.patient_ref_get(actor=request.user, public_id=public_id)
    form = forms.AssignPractitionerForm(request.POST, actor=request.user)
    if not form.is_valid():
        messages.error(request, "Choose a practitioner from the list.")
        return redirect(_detail(patient) + "#care-team")
    practitioner = form.cleaned_data["practitioner"]
    try:
        services.care_relationship_ensure(
            actor=request.user, practitioner=practitioner, patient=patient
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{practitioner.display_name} is now on this patient's care team."
        )
    return redirect(_detail(patient) + "#care-team")


@require_http_methods(["GET", "POST"])
@role_required(*ADMINISTRATIVE_ROLES)
def edit(request: HttpRequest, public_id) -> HttpResponse:
    patient = selectors.patient_get(
        actor=request.user, public_id=public_id, action="change", view=_view_name(request)
    )
    if patient.merged_into_id:
        messages.error(request, "This record has been merged; edit the record it was merged into.")
        return redirect(_detail(patient))
    if request.method == "GET":
        form = forms.PatientEditForm(initial=forms.PatientEditForm.initial_for(patient))
    else:
        form = forms.PatientEditForm(
            request.POST, initial=forms.PatientEditForm.initial_for(patient)
        )
        if form.is_valid():
            data = {
                k: v
                for k, v in form.service_data().items()
                if k == "national_id" or form.initial.get(k) != v
            }
            try:
                if data:
                    services.patient_update(actor=request.user, patient=patient, **data)
            except ServiceError as exc:
                forms.apply_service_error(form, exc)
            else:
                messages.success(
                    request, "The details have been saved." if data else "Nothing changed."
                )
                return redirect(_detail(patient))
    return render(request, "patients/edit.html", {"form": form, "patient": patient})


# --- clinicians: their patients and break-glass ----------------------------------------------


@require_GET
@role_required(*CLINICIAN_ROLES)
def my_patients(request: HttpRequest) -> HttpResponse:
    home = selectors.clinician_home(actor=request.user, view=_view_name(request))
    return render(request, "patients/my_patients.html", {"home": home})


@require_http_methods(["GET", "POST"])
@role_required(*CLINICIAN_ROLES)
def break_glass(request: HttpRequest, public_id) -> HttpResponse:
    if request.method == "GET":
        if selectors.break_glass_target(actor=request.user, public_id=public_id):
            messages.info(
                request, "You can already open this record; emergency access is not needed."
            )
            return redirect(_detail(public_id))
        form = forms.BreakGlassForm()
    else:
        form = forms.BreakGlassForm(request.POST)
        if form.is_valid():
            try:
                grant = services.break_glass_open(
                    actor=request.user,
                    patient_public_id=public_id,
                    reason=form.cleaned_data["reason"],
                )
            except ServiceError as exc:
                if isinstance(exc, NotFound):
                    raise
                forms.apply_service_error(form, exc)
            else:
                minutes = ceil((grant.expires_at - timezone.now()).total_seconds() / 60)
                messages.warning(
                    request,
                    f"Emergency access is open for {minutes} minutes. Everything you "
                    "open is logged and shown to the patient and the auditor.",
                )
                return redirect(_detail(public_id))
    return render(
        request,
        "patients/break_glass.html",
        {
            "form": form,
            "public_id": public_id,
            "minutes": settings.BREAK_GLASS_MINUTES,
        },
    )


# --- administrators: duplicates and merges ---------------------------------------------------


@require_GET
@role_required(*MERGE_ROLES)
def duplicates(request: HttpRequest) -> HttpResponse:
    review = selectors.duplicate_review(actor=request.user, view=_view_name(request))
    return render(request, "patients/duplicates.html", {"review": review})


@require_POST
@role_required(*MERGE_ROLES)
def merge(request: HttpRequest) -> HttpResponse:
    form = forms.MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose which record to keep.")
        return redirect("patients:duplicates")
    survivor, duplicate = selectors.merge_pair_get(
        actor=request.user,
        survivor_id=form.cleaned_data["survivor"],
        duplicate_id=form.cleaned_data["duplicate"],
    )
    try:
        services.patient_merge(actor=request.user, survivor=survivor, duplicate=duplicate)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Record {duplicate.mrn} was merged into {survivor.mrn}. "
            "You can undo this under “Recently merged”.",
        )
    return redirect("patients:duplicates")


@require_POST
@role_required(*MERGE_ROLES)
def duplicate_dismiss(request: HttpRequest, public_id) -> HttpResponse:
    candidate = selectors.duplicate_candidate_get(actor=request.user, public_id=public_id)
    try:
        services.duplicate_dismiss(actor=request.user, candidate=candidate)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Marked {candidate.patient.mrn} and {candidate.other.mrn} as different people.",
        )
    return redirect("patients:duplicates")


@require_POST
@role_required(*MERGE_ROLES)
def unmerge(request: HttpRequest, public_id) -> HttpResponse:
    duplicate = selectors.merged_patient_get(actor=request.user, public_id=public_id)
    try:
        services.patient_unmerge(actor=request.user, duplicate=duplicate)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The merge was undone: record {duplicate.mrn} is separate again and back "
            "in the review list.",
        )
    return redirect("patients:duplicates")

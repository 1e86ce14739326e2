"""Directory pages: find a clinician, onboard one, edit profiles, manage sites."""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.core.exceptions import Forbidden, NotFound, ServiceError
from carehub.directory import selectors, services
from carehub.directory.forms import (
    OnboardForm,
    PractitionerAdminForm,
    PractitionerFilterForm,
    PractitionerSelfForm,
    SiteForm,
    add_service_errors,
    timezone_names,
)


class SignedInRequest(HttpRequest):
    """What the views below receive (login_required runs first); the user is a carehub User."""

    user: Any


PAGE_SIZE = 25


def _require_role(request: SignedInRequest, *roles: str) -> None:
    if request.user.role not in roles:
        raise PermissionDenied


def _base_url(request: SignedInRequest) -> str:
    return request.build_absolute_uri("/")


def _practitioner(request: SignedInRequest, public_id: uuid.UUID, action: str = "view"):
    try:
        return selectors.practitioner_get(actor=request.user, public_id=public_id, action=action)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_GET
def practitioner_list(request: SignedInRequest) -> HttpResponse:
    """Every signed-in user can look clinicians up by specialty and site."""
    form = PractitionerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    specialty = filters.get("specialty")
    practitioners = selectors.practitioner_list(
        actor=request.user,
        specialty=specialty.code if specialty else "",
        site=filters.get("site"),
        search=filters.get("q", ""),
    )
    page = Paginator(practitioners, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "directory/practitioner_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_onboard": request.user.role == Role.CLINIC_ADMIN,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def practitioner_onboard(request: SignedInRequest) -> HttpResponse:
    """One form: the account, the professional profile, and the invitation email."""
    _require_role(request, Role.CLINIC_ADMIN)
    form = OnboardForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            practitioner = services.practitioner_onboard(
                actor=request.user, base_url=_base_url(request), **form.cleaned_data
            )
        except ServiceError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{practitioner.display_name} has been added. An invitation to set a password and "
                f"set up two-factor authentication was sent to {practitioner.user.email}.",
            )
            return redirect("directory:practitioner_detail", public_id=practitioner.public_id)
    return render(request, "directory/onboard.html", {"form": form})


@login_required
@require_GET
def practitioner_detail(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponse:
    practitioner = _practitioner(request, public_id)
    return render(
        request,
        "directory/practitioner_detail.html",
        {
            "practitioner": practitioner,
            "can_edit": request.user.role == Role.CLINIC_ADMIN,
            "is_me": practitioner.user_id == request.user.pk,
        },
    )


@login_required
@require_GET
def practitioner_photo(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponseBase:
    """Photos are served to signed-in users only, through the same access rule as the profile."""
    practitioner = _practitioner(request, public_id)
    if not practitioner.photo:
        raise Http404("No photo.")
    try:
        handle = practitioner.photo.open("rb")
    except OSError as exc:
        raise Http404("No photo.") from exc
    content_type = mimetypes.guess_type(practitioner.photo.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _profile_form_page(request, form_class, practitioner, template: str, success_url: str):
    initial = {
        "first_name": practitioner.user.first_name,
        "last_name": practitioner.user.last_name,
        "title": practitioner.title,
        "languages": practitioner.languages,
        "bio": practitioner.bio,
        "registration_number": practitioner.registration_number,
        "specialties": list(practitioner.specialties.all()),
        "sites": list(practitioner.sites.all()),
    }
    form = form_class(request.POST or None, request.FILES or None, initial=initial)
    if not practitioner.photo:
        del form.fields["remove_photo"]
    if request.method == "POST" and form.is_valid():
        try:
            services.practitioner_update(
                actor=request.user, practitioner=practitioner, **form.profile_changes()
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ServiceError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The profile has been saved.")
            return redirect(success_url)
    return render(request, template, {"form": form, "practitioner": practitioner})


@login_required
@require_http_methods(["GET", "POST"])
def practitioner_edit(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponse:
    _require_role(request, Role.CLINIC_ADMIN)
    practitioner = _practitioner(request, public_id, action="change")
    return _profile_form_page(
        request,
        PractitionerAdminForm,
        practitioner,
        "directory/practitioner_edit.html",
        reverse("directory:practitioner_detail", kwargs={"public_id": practitioner.public_id}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_profile(request: SignedInRequest) -> HttpResponse:
    """A clinician edits what patients read about them: biography, languages, photo."""
    _require_role(request, *CLINICIAN_ROLES)
    practitioner = selectors.practitioner_of_user(user=request.user)
    if practitioner is None:
        raise Http404("You have no practitioner profile yet; ask an administrator.")
    return _profile_form_page(
        request, PractitionerSelfForm, practitioner, "directory/my_profile.html", request.path
    )


# --- Sites ---------------------------------------------------------------------------------


@login_required
@require_GET
def site_list(request: SignedInRequest) -> HttpResponse:
    _require_role(request, Role.CLINIC_ADMIN)
    sites = selectors.site_list(actor=request.user, action="change")
    return render(request, "directory/site_list.html", {"sites": sites})


def _site_form_page(request: SignedInRequest, site=None) -> HttpResponse:
    initial = (
        {f: getattr(site, f) for f in (*services.SITE_FIELDS, *services.SITE_BOOKING_FIELDS)}
        if site
        else None
    )
    form = SiteForm(request.POST or None, initial=initial, editing=site is not None)
    if request.method == "POST" and form.is_valid():
        try:
            if site is None:
                saved = services.site_create(actor=request.user, **form.cleaned_data)
            else:
                saved = services.site_update(actor=request.user, site=site, **form.cleaned_data)
        except ServiceError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{saved.name} has been saved.")
            return redirect("directory:site_list")
    return render(
        request,
        "directory/site_form.html",
        {
            "form": form,
            "site": site,
            "timezones": timezone_names(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def site_create(request: SignedInRequest) -> HttpResponse:
    _require_role(request, Role.CLINIC_ADMIN)
    return _site_form_page(request)


@login_required
@require_http_methods(["GET", "POST"])
def site_edit(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponse:
    _require_role(request, Role.CLINIC_ADMIN)
    try:
        site = selectors.site_get(actor=request.user, public_id=public_id, action="change")
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return _site_form_page(request, site)

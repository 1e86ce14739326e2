"""Availability pages: a doctor's weekly rules and dated exceptions (leave, holidays, blocked
hours, extra sessions), managed by the doctor or a clinic administrator.

Rules are wall-clock times of their site; exception times are typed on the site's wall clock
and turned into aware datetimes here, with the site's zone, before the service sees them. After
a change, the booked appointments that no longer fit are listed with links to reschedule or
reassign them (the page always lists them while they exist)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from carehub.accounts.choices import Role
from carehub.core.decorators import role_required
from carehub.core.exceptions import ServiceError
from carehub.patients.forms import apply_service_error
from carehub.scheduling import forms_staff as forms
from carehub.scheduling import selectors, services
from carehub.scheduling import slots as engine
from carehub.scheduling.policies import AVAILABILITY_ROLES, REASSIGN_ROLES
from carehub.scheduling.views.staff import (
    home_zone,
    managed_practitioner,
    practitioner_query,
    role,
    view_name,
)


def _page_url(request: HttpRequest, practitioner) -> str:
    return reverse("scheduling:availability") + practitioner_query(request, practitioner)


def _required_practitioner(request: HttpRequest):
    practitioner = managed_practitioner(request)
    if practitioner is None:
        raise Http404("Choose a practitioner.")
    return practitioner


def _zone_help(practitioner) -> str:
    zones = sorted({s.timezone for s in practitioner.sites.all()})
    if len(zones) <= 1:
        return zones[0] if zones else home_zone(practitioner)
    return f"the chosen site's zone; {home_zone(practitioner)} for all sites"


def _exception_form(practitioner, data=None) -> forms.ExceptionForm:
    return forms.ExceptionForm(data, practitioner=practitioner, tz_name=_zone_help(practitioner))


def _report_conflicts(request: HttpRequest, conflicts: list) -> None:
    if conflicts:
        count = len(conflicts)
        messages.warning(
            request,
            f"{count} booked appointment{'s' if count != 1 else ''} now "
            f"fall{'s' if count == 1 else ''} outside the availability: reschedule or reassign "
            f"{'them' if count != 1 else 'it'} (listed below).",
        )


def _local(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(engine.zone(tz_name))


@require_GET
@role_required(*AVAILABILITY_ROLES)
def availability(request: HttpRequest) -> HttpResponse:
    """Weekly rules, upcoming exceptions, the forms to change them, and the booked
    appointments that fall outside the availability."""
    return _render(request, managed_practitioner(request))


def _render(
    request: HttpRequest,
    practitioner,
    *,
    rule_form: forms.RuleForm | None = None,
    exception_form: forms.ExceptionForm | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "practitioner": practitioner,
        "is_doctor": role(request) == Role.DOCTOR,
    }
    if role(request) == Role.CLINIC_ADMIN:
        context["pick"] = forms.PractitionerPickForm(
            initial={"practitioner": practitioner.public_id if practitioner else None},
            actor=request.user,
        )
    if practitioner is not None:
        tz_name = home_zone(practitioner)
        exceptions = selectors.exceptions_of(practitioner_id=practitioner.pk)
        conflicts = selectors.availability_conflicts_shown(
            actor=request.user, practitioner_id=practitioner.pk, view=view_name(request)
        )
        context.update(
            tz_name=tz_name,
            query=practitioner_query(request, practitioner),
            rules=selectors.rules_of(practitioner_id=practitioner.pk),
            exceptions=[
                (
                    e,
                    _local(e.start, e.site.timezone if e.site else tz_name),
                    _local(e.end, e.site.timezone if e.site else tz_name),
                )
                for e in exceptions
            ],
            conflicts=[(a, _local(a.start, a.site.timezone)) for a in conflicts],
            can_reassign=role(request) in REASSIGN_ROLES,
            rule_form=rule_form or forms.RuleForm(practitioner=practitioner),
            exception_form=exception_form or _exception_form(practitioner),
        )
    return render(request, "scheduling/staff/availability.html", context)


@require_POST
@role_required(*AVAILABILITY_ROLES)
def rule_add(request: HttpRequest) -> HttpResponse:
    practitioner = _required_practitioner(request)
    form = forms.RuleForm(request.POST, practitioner=practitioner)
    if form.is_valid():
        try:
            _, conflicts = services.rule_save(
                actor=request.user, practitioner=practitioner, **form.cleaned_data
            )
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, "The weekly rule was added.")
            _report_conflicts(request, conflicts)
            return redirect(_page_url(request, practitioner))
    return _render(request, practitioner, rule_form=form)


@require_http_methods(["GET", "POST"])
@role_required(*AVAILABILITY_ROLES)
def rule_edit(request: HttpRequest, public_id) -> HttpResponse:
    rule = selectors.rule_get(actor=request.user, public_id=public_id, action="change")
    practitioner = rule.practitioner
    initial = forms.RuleForm.initial_for(rule)
    if request.method == "GET":
        form = forms.RuleForm(initial=initial, practitioner=practitioner)
    else:
        form = forms.RuleForm(request.POST, initial=initial, practitioner=practitioner)
        if form.is_valid():
            try:
                _, conflicts = services.rule_save(
                    actor=request.user, practitioner=practitioner, rule=rule, **form.cleaned_data
                )
            except ServiceError as exc:
                apply_service_error(form, exc)
            else:
                messages.success(request, "The weekly rule was saved.")
                _report_conflicts(request, conflicts)
                return redirect(_page_url(request, practitioner))
    return render(
        request,
        "scheduling/staff/rule_edit.html",
        {
            "form": form,
            "rule": rule,
            "practitioner": practitioner,
            "back_url": _page_url(request, practitioner),
        },
    )


@require_POST
@role_required(*AVAILABILITY_ROLES)
def rule_delete(request: HttpRequest, public_id) -> HttpResponse:
    rule = selectors.rule_get(actor=request.user, public_id=public_id, action="change")
    practitioner = rule.practitioner
    try:
        conflicts = services.rule_delete(actor=request.user, rule=rule)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The weekly rule was deleted.")
        _report_conflicts(request, conflicts)
    return redirect(_page_url(request, practitioner))


@require_POST
@role_required(*AVAILABILITY_ROLES)
def exception_add(request: HttpRequest) -> HttpResponse:
    practitioner = _required_practitioner(request)
    form = _exception_form(practitioner, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        site = data["site"]
        zone = engine.zone(site.timezone if site else home_zone(practitioner))
        try:
            exception, conflicts = services.exception_add(
                actor=request.user,
                practitioner=practitioner,
                kind=data["kind"],
                # The wall-clock times typed, on the site's clock.
                start=data["start"].replace(tzinfo=zone),
                end=data["end"].replace(tzinfo=zone),
                site=site,
                slot_minutes=data["slot_minutes"],
                mode=data["mode"],
                note=data["note"],
            )
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, f"{exception.get_kind_display()} added.")
            _report_conflicts(request, conflicts)
            return redirect(_page_url(request, practitioner))
    return _render(request, practitioner, exception_form=form)


@require_POST
@role_required(*AVAILABILITY_ROLES)
def exception_delete(request: HttpRequest, public_id) -> HttpResponse:
    exception = selectors.exception_get(actor=request.user, public_id=public_id, action="change")
    practitioner = exception.practitioner
    try:
        conflicts = services.exception_delete(actor=request.user, exception=exception)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{exception.get_kind_display()} deleted.")
        _report_conflicts(request, conflicts)
    return redirect(_page_url(request, practitioner))

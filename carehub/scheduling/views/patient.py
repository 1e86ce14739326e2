"""Patient pages of scheduling, under /appointments/: booking in three steps (specialty →
practitioner and time → confirm), the patient's appointments (cancel, reschedule, calendar
file) and their waitlist with its offers. Reception and clinic administrators use the same
booking steps for a patient named by `?patient=<public id>`.

Each view checks the role first (403), reaches rows through restricted selectors (404, existence
never revealed) and calls one service to write. A refused booking (`SlotUnavailable`, 409) is
shown with its reason and the nearest free times as one-click choices, never as an error page."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.audit.choices import AccessCategory
from carehub.core.decorators import role_required
from carehub.core.exceptions import Forbidden, NotFound, ServiceError
from carehub.directory import selectors as directory
from carehub.patients import selectors as patients
from carehub.scheduling import forms_patient as forms
from carehub.scheduling import ics, selectors, services
from carehub.scheduling.choices import Mode, Status, WaitlistStatus
from carehub.scheduling.policies import BOOKING_ROLES, STAFF_ROLES
from carehub.scheduling.slots import zone
from carehub.triage import services as triage

PATIENT = (Role.PATIENT,)
SEE_ROLES = tuple(BOOKING_ROLES | STAFF_ROLES)
BOOKERS = tuple(BOOKING_ROLES)
SLOT_DAYS = 14  # dates shown at a time in step 2 and on the reschedule page
POLL_SECONDS = 5
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def _view_name(request: HttpRequest) -> str:
    return request.resolver_match.view_name if request.resolver_match else ""


def _is_patient(request: HttpRequest) -> bool:
    return getattr(request.user, "role", "") == Role.PATIENT


def _url(name: str, query: dict[str, Any] | None = None, **kwargs: Any) -> str:
    url = reverse(f"scheduling:{name}", kwargs=kwargs or None)
    query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def _detail_url(appointment) -> str:
    return _url("detail", public_id=appointment.public_id)


def _local(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(zone(tz_name))


def _time_label(moment: datetime, tz_name: str, *, year: bool = False) -> str:
    """'Tue 3 Dec, 09:00' (or with the year) in the site's zone."""
    local = _local(moment, tz_name)
    day = f"{local:%a} {local.day} {local:%b}" + (f" {local:%Y}" if year else "")
    return f"{day}, {local:%H:%M}"


def _zone_label(moment: datetime, tz_name: str) -> str:
    """'Europe/London, GMT': the zone's name and its abbreviation at that moment."""
    abbreviation = _local(moment, tz_name).tzname() or ""
    if abbreviation and not abbreviation.startswith(("+", "-")):
        return f"{tz_name}, {abbreviation}"
    return tz_name


# --- who the booking is for -------------------------------------------------------------------
@dataclass
class BookingFor:
    """The patient a booking is for: the signed-in patient, or the one staff named."""

    patient: Any = None  # patients.Patient
    named: bool = False  # named by staff in the link (carried from step to step)

    @property
    def patient_id(self) -> int | None:
        return self.patient.pk if self.patient is not None else None

    @property
    def param(self) -> str:
        """The `patient` parameter carried from step to step (staff only)."""
        return str(self.patient.public_id) if self.named and self.patient is not None else ""


def _booking_for(request: HttpRequest, *, show: bool) -> BookingFor:
    """Patients book for themselves. Staff name the patient with `patient=<public id>`; the
    record is reached through the restricted selector (404 otherwise) and, when the page shows
    the name, the read is logged."""
    if _is_patient(request):
        own = patients.patient_of_user(user=request.user)
        return BookingFor(patient=own)
    public_id = (request.POST if request.method == "POST" else request.GET).get("patient", "")
    if not public_id:
        return BookingFor()
    if show:
        patient = patients.patient_get(
            actor=request.user, public_id=public_id, action="change", view=_view_name(request)
        )
    else:
        patient = patients.patient_ref_get(actor=request.user, public_id=public_id)
    return BookingFor(patient=patient, named=True)


# --- slots on a page --------------------------------------------------------------------------
@dataclass
class SlotChoice:
    """One free time as a page shows it: in its site's zone, with where it leads."""

    start: datetime  # UTC
    label: str  # "Tue 3 Dec, 09:00"
    time: str  # "09:00"
    tz_name: str  # "Europe/London"
    zone: str  # "Europe/London, GMT"
    site_name: str
    modes: tuple[str, ...]
    url: str = ""  # step 3 for this time (booking)

    @property
    def iso(self) -> str:
        return self.start.isoformat()

    @property
    def mode_names(self) -> str:
        return ", ".join(Mode(m).label for m in self.modes)

    @property
    def modes_label(self) -> str:
        if len(self.modes) == 1:
            return f"{Mode(self.modes[0]).label} only"
        return ""


def _choice(slot, zones: dict[int, str], sites: dict[int, Any], url: str = "") -> SlotChoice:
    tz_name = zones.get(slot.site_id) or selectors.site_rules(slot.site_id).timezone
    site = sites.get(slot.site_id)
    return SlotChoice(
        start=slot.start,
        label=_time_label(slot.start, tz_name),
        time=f"{_local(slot.start, tz_name):%H:%M}",
        tz_name=tz_name,
        zone=_zone_label(slot.start, tz_name),
        site_name=site.name if site is not None else "",
        modes=tuple(slot.modes),
        url=url,
    )


@dataclass
class SlotDay:
    label: str  # "Tuesday 3 December"
    slots: list[SlotChoice] = field(default_factory=list)


def _by_day(choices: Iterable[SlotChoice]) -> list[SlotDay]:
    days: list[SlotDay] = []
    for choice in choices:
        local = _local(choice.start, choice.tz_name)
        label = f"{local:%A} {local.day} {local:%B}"
        if not days or days[-1].label != label:
            days.append(SlotDay(label))
        days[-1].slots.append(choice)
    return days


def _fingerprint(parts: Iterable[Any]) -> str:
    return hashlib.blake2b(repr(list(parts)).encode(), digest_size=8).hexdigest()


# --- the patient's appointments ------------------------------------------------------------------
def _badge(status: str) -> str:
    if status == Status.BOOKED:
        return "badge-ok"
    if status in {Status.CANCELLED, Status.NO_SHOW}:
        return "badge-danger"
    return ""


@dataclass
class AppointmentRow:
    appointment: Any
    when: str  # "Tue 3 Dec 2026, 09:00" in the site's zone
    until: str  # "09:30"
    zone: str
    badge: str
    can_change: bool


def _changeable_until(appointment) -> datetime:
    return appointment.start - timedelta(minutes=appointment.site.cancellation_cutoff_minutes)


def _row(appointment, now: datetime, patient: bool) -> AppointmentRow:
    tz_name = appointment.site.timezone
    return AppointmentRow(
        appointment=appointment,
        when=_time_label(appointment.start, tz_name, year=True),
        until=f"{_local(appointment.end, tz_name):%H:%M}",
        zone=_zone_label(appointment.start, tz_name),
        badge=_badge(appointment.status),
        can_change=patient
        and appointment.status == Status.BOOKED
        and now < _changeable_until(appointment),
    )


@require_GET
@role_required(*PATIENT, *STAFF_ROLES)
def mine(request: HttpRequest) -> HttpResponse:
    """The patient's appointments: upcoming first (soonest first), then past (latest first).
    Staff reaching /appointments/ go to their own page: clinicians to their day, reception
    and administrators to the calendar."""
    if not _is_patient(request):
        role = getattr(request.user, "role", "")
        return redirect("scheduling:day" if role in CLINICIAN_ROLES else "scheduling:calendar")
    rows = selectors.appointment_list(actor=request.user, view=_view_name(request))
    now = timezone.now()
    upcoming = [_row(a, now, True) for a in rows if a.is_active and a.end > now]
    past = [_row(a, now, True) for a in reversed(rows) if not (a.is_active and a.end > now)]
    return render(request, "scheduling/patient/mine.html", {"upcoming": upcoming, "past": past})


def _triage_param(data: Any) -> str:
    """The symptom check a booking started from (`?triage=<uuid>`), carried to the confirm step."""
    value = str(data.get("triage", ""))[:36]
    try:
        return str(uuid.UUID(value)) if value else ""
    except ValueError:
        return ""


# --- booking: step 1 ---------------------------------------------------------------------------
@require_GET
@role_required(*BOOKERS)
def book(request: HttpRequest) -> HttpResponse:
    """Step 1: choose a specialty. `?specialty=<code>` (from the symptom checker) skips it."""
    specialties = selectors.bookable_specialties()
    code = request.GET.get("specialty", "")[:64]
    if code and code in {s.code for s in specialties}:
        carried = {} if _is_patient(request) else {"patient": request.GET.get("patient", "")}
        return redirect(_url("book_slots", carried, specialty_code=code))
    booking = _booking_for(request, show=True)
    return render(
        request,
        "scheduling/patient/book_specialty.html",
        {
            "specialties": [
                (s, _url("book_slots", {"patient": booking.param}, specialty_code=s.code))
                for s in specialties
            ],
            "unknown_specialty": bool(code),
            "booking": booking,
            "is_patient": _is_patient(request),
        },
    )


# --- booking: step 2 ---------------------------------------------------------------------------
@dataclass
class PractitionerCard:
    practitioner: Any
    specialties: str
    languages: str
    sites: str
    slots: list[SlotChoice]
    next_slot: SlotChoice | None
    next_url: str  # the same page from the date of the next free time
    waitlist_url: str
    zone: str  # shared by all its slots, or ""


def _cards(
    search: selectors.BookingSearch,
    booking: BookingFor,
    mode: str | None,
    specialty_code: str,
    query: dict[str, Any],
) -> list[PractitionerCard]:
    cards = []
    for option in search.options:
        p = option.practitioner
        sites = {s.pk: s for s in p.sites.all()}

        def confirm(slot, practitioner=p) -> str:
            return _url(
                "book_confirm",
                {
                    "practitioner": practitioner.public_id,
                    "start": slot.start.isoformat(),
                    "mode": mode or slot.modes[0],
                    "patient": booking.param,
                    "specialty": specialty_code,
                    "triage": query.get("triage", ""),
                },
            )

        slots = [_choice(s, search.zones, sites, confirm(s)) for s in option.slots]
        next_slot = (
            _choice(option.next_slot, search.zones, sites, confirm(option.next_slot))
            if option.next_slot is not None and not slots
            else None
        )
        next_url = ""
        if next_slot is not None:
            day = _local(next_slot.start, next_slot.tz_name).date()
            next_url = _url(
                "book_slots", {**query, "date": day.isoformat()}, specialty_code=specialty_code
            )
        zones = {c.zone for c in slots}
        cards.append(
            PractitionerCard(
                practitioner=p,
                specialties=", ".join(s.label for s in p.specialties.all()),
                languages=", ".join(forms.LANGUAGE_NAMES.get(c, c) for c in p.languages or []),
                sites=", ".join(s.name for s in sites.values()),
                slots=slots,
                next_slot=next_slot,
                next_url=next_url,
                waitlist_url=_url("waitlist", {"practitioner": p.public_id}) + "#join",
                zone=zones.pop() if len(zones) == 1 else "",
            )
        )
    return cards


@require_GET
@role_required(*BOOKERS)
def book_slots(request: HttpRequest, specialty_code: str) -> HttpResponse:
    """Step 2: practitioners of the specialty with their next free times, next available
    first. The grid is polled (htmx, every few seconds): a time someone else takes disappears,
    and an unchanged grid answers 204 so nothing moves under the patient's keyboard focus."""
    specialty = next(
        (s for s in selectors.bookable_specialties() if s.code == specialty_code), None
    )
    if specialty is None:
        raise Http404("No such specialty.")
    partial = bool(getattr(request, "htmx", False)) or request.GET.get("partial") == "1"
    booking = _booking_for(request, show=not partial)
    filters = selectors.booking_filters(actor=request.user, specialty=specialty_code)
    form = forms.BookingFilterForm(request.GET, sites=filters.sites, languages=filters.languages)
    chosen = form.filters()
    search = selectors.booking_search(
        actor=request.user,
        specialty=specialty_code,
        for_patient_id=booking.patient_id,
        **chosen,
    )
    query = {
        "site": chosen["site"].public_id if chosen["site"] else "",
        "mode": chosen["mode"] or "",
        "language": chosen["language"],
        "date": chosen["day"].isoformat() if chosen["day"] else "",
        "patient": booking.param,
        "triage": _triage_param(request.GET),
    }
    cards = _cards(search, booking, chosen["mode"], specialty_code, query)
    version = _fingerprint((c.practitioner.pk, [s.iso for s in c.slots]) for c in cards)
    if partial and request.GET.get("v") == version:
        return HttpResponse(status=204)
    context = {
        "specialty": specialty,
        "form": form,
        "cards": cards,
        "booking": booking,
        "is_patient": _is_patient(request),
        "poll_url": _url(
            "book_slots", {**query, "partial": "1", "v": version}, specialty_code=specialty_code
        ),
        "poll_seconds": POLL_SECONDS,
        "changed": partial and bool(request.GET.get("v")),
        "waitlist_url": _url("waitlist", {"specialty": specialty.code}) + "#join",
        "step1_url": _url("book", {"patient": booking.param}),
    }
    template = "scheduling/patient/book_slots.html"
    return render(request, f"{template}#grid" if partial else template, context)


# --- booking: step 3 ---------------------------------------------------------------------------
@dataclass
class Alternative:
    """A free time offered instead of one that is gone, posted back in one click."""

    label: str
    zone: str
    start: str
    mode: str
    mode_label: str


def _alternatives(items: Iterable[dict], tz_name: str) -> list[Alternative]:
    result = []
    for item in items:
        try:
            start = datetime.fromisoformat(item["start"])
            mode = Mode(item["mode"])
        except (KeyError, ValueError):
            continue
        result.append(
            Alternative(
                label=_time_label(start, tz_name),
                zone=_zone_label(start, tz_name),
                start=start.astimezone(UTC).isoformat(),
                mode=mode.value,
                mode_label=mode.label,
            )
        )
    return result


def _practitioner_zone(practitioner) -> str:
    site = next(iter(practitioner.sites.all()), None)
    return site.timezone if site is not None else "UTC"


@require_http_methods(["GET", "POST"])
@role_required(*BOOKERS)
def book_confirm(request: HttpRequest) -> HttpResponse:
    """Step 3: the chosen time, the type of visit and the reason; POST books it."""
    is_patient = _is_patient(request)
    data = request.POST if request.method == "POST" else request.GET
    form = forms.ConfirmForm(data, with_reason=is_patient)
    form.is_valid()
    if "practitioner" in form.errors or "start" in form.errors:
        return render(
            request, "scheduling/patient/book_invalid.html", {"step1_url": _url("book")}, status=400
        )
    practitioner = directory.practitioner_get(
        actor=request.user, public_id=form.cleaned_data["practitioner"]
    )
    start: datetime = form.cleaned_data["start"]
    booking = _booking_for(request, show=request.method == "GET")
    specialty = data.get("specialty", "")
    back = {"patient": booking.param}
    context: dict[str, Any] = {
        "practitioner": practitioner,
        "booking": booking,
        "is_patient": is_patient,
        "back_url": _url("book_slots", back, specialty_code=specialty)
        if SLUG.fullmatch(specialty)
        else _url("book", back),
        "alternatives": [],
        "specialty_code": specialty if SLUG.fullmatch(specialty) else "",
        "triage_param": _triage_param(data),
    }
    if booking.patient is None:
        context["no_patient"] = True
        return render(request, "scheduling/patient/book_confirm.html", context, status=400)
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        try:
            appointment = services.appointment_book(
                actor=request.user,
                practitioner=practitioner,
                start=start,
                mode=form.cleaned_data["mode"],
                reason=form.cleaned_data.get("reason", ""),
                patient_public_id=None if is_patient else booking.patient.public_id,
            )
        except services.SlotUnavailable as exc:
            context["refusal"] = exc.message
            context["alternatives"] = _alternatives(
                exc.extra.get("alternatives", []), _practitioner_zone(practitioner)
            )
            status = exc.status
        except ServiceError as exc:
            if isinstance(exc, NotFound | Forbidden):
                raise
            forms.apply_service_error(form, exc)
            status = exc.status
        else:
            if context["triage_param"]:
                # The symptom check this booking came from becomes its pre-consultation
                # questionnaire; a check that is not the patient's is simply not attached.
                triage.session_attach(
                    actor=request.user,
                    public_id=context["triage_param"],
                    appointment=appointment,
                    claimable=request.session.get(triage.SESSION_KEY, []),
                )
            tz_name = appointment.site.timezone
            messages.success(
                request,
                f"Booked: {_time_label(appointment.start, tz_name, year=True)} "
                f"with {practitioner.display_name}.",
            )
            return redirect(_detail_url(appointment))
    if request.method == "POST" and not is_patient:
        # Not booked: the page shows the patient's name again, which is a read.
        patients.log_access(
            actor=request.user,
            patients=[booking.patient],
            category=AccessCategory.DEMOGRAPHICS,
            view=_view_name(request),
        )
    refused = "refusal" in context  # the service said why; its alternatives are shown
    slot = (
        None
        if refused
        else selectors.slot_free(
            actor=request.user,
            practitioner=practitioner,
            start=start,
            for_patient_id=booking.patient_id,
        )
    )
    if slot is None and not refused:
        # Gone between the list and this page: say so, and offer the nearest free times.
        requested = data.get("mode") if data.get("mode") in Mode.values else None
        context["refusal"] = (
            "This time can no longer be booked: someone else may have just taken it."
        )
        near = selectors.free_slots_near(
            actor=request.user,
            practitioner=practitioner,
            around=start,
            mode=requested,
            for_patient_id=booking.patient_id,
        )
        context["alternatives"] = _alternatives(
            (services.slot_json(s, practitioner.public_id, requested) for s in near),
            _practitioner_zone(practitioner),
        )
    if slot is not None:
        sites = {s.pk: s for s in practitioner.sites.all()}
        site = sites.get(slot.site_id) or directory.site_by_id(site_id=slot.site_id)
        if request.method == "GET":
            mode = data.get("mode") if data.get("mode") in slot.modes else slot.modes[0]
            form = forms.ConfirmForm(
                initial={
                    "practitioner": practitioner.public_id,
                    "start": start.isoformat(),
                    "patient": booking.param,
                    "mode": mode,
                },
                modes=slot.modes,
                with_reason=is_patient,
            )
        context.update(
            slot=_choice(slot, {site.pk: site.timezone}, {site.pk: site}),
            site=site,
            minutes=int((slot.end - slot.start).total_seconds() // 60),
            form=form,
        )
    context["reason"] = data.get("reason", "") if is_patient else ""
    context["patient_param"] = booking.param
    return render(request, "scheduling/patient/book_confirm.html", context, status=status)


# --- one appointment ------------------------------------------------------------------------------
@require_GET
@role_required(*SEE_ROLES)
def detail(request: HttpRequest, public_id) -> HttpResponse:
    """An appointment: when (site time zone), who, where, how; the calendar file; how to
    cancel or move it. Staff who may see it get it read-only."""
    appointment = selectors.appointment_get(
        actor=request.user, public_id=public_id, view=_view_name(request)
    )
    is_patient = _is_patient(request)
    now = timezone.now()
    row = _row(appointment, now, is_patient)
    cutoff = appointment.site.cancellation_cutoff_minutes
    return render(
        request,
        "scheduling/patient/detail.html",
        {
            "row": row,
            "appointment": appointment,
            "site": appointment.site,
            "is_patient": is_patient,
            "is_staff": not is_patient,
            "show_reason": selectors.can_read_reason(request.user, appointment),
            "changeable_until": _time_label(
                _changeable_until(appointment), appointment.site.timezone, year=True
            ),
            "cutoff": _duration(cutoff),
            "is_upcoming": appointment.end > now,
            "cancelled_at": _time_label(appointment.cancelled_at, appointment.site.timezone)
            if appointment.cancelled_at
            else "",
        },
    )


def _duration(minutes: int) -> str:
    if minutes % (60 * 24) == 0 and minutes >= 60 * 24:
        days = minutes // (60 * 24)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@require_GET
@role_required(*SEE_ROLES)
def ics_file(request: HttpRequest, public_id) -> HttpResponse:
    """The appointment as an iCalendar file for the patient's own calendar."""
    appointment = selectors.appointment_get(
        actor=request.user, public_id=public_id, view=_view_name(request)
    )
    body = ics.appointment_ics(
        appointment,
        practitioner_name=appointment.practitioner.display_name,
        url=request.build_absolute_uri(_detail_url(appointment)),
    )
    local = _local(appointment.start, appointment.site.timezone)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{local:%Y-%m-%d}.ics"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@role_required(*PATIENT)
def cancel(request: HttpRequest, public_id) -> HttpResponse:
    """Cancel with a reason, until the site's cutoff (the service enforces it)."""
    appointment = selectors.appointment_get(
        actor=request.user, public_id=public_id, action="change", view=_view_name(request)
    )
    if appointment.status != Status.BOOKED:
        messages.info(request, "This appointment is not booked any more; nothing to cancel.")
        return redirect(_detail_url(appointment))
    form = forms.CancelForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.appointment_cancel(
                actor=request.user, appointment=appointment, reason=form.cleaned_data["reason"]
            )
        except ServiceError as exc:
            forms.apply_service_error(form, exc)
            status = exc.status
        else:
            messages.success(request, "Your appointment has been cancelled.")
            return redirect(_detail_url(appointment))
    elif request.method == "POST":
        status = 400
    now = timezone.now()
    return render(
        request,
        "scheduling/patient/cancel.html",
        {
            "form": form,
            "row": _row(appointment, now, True),
            "appointment": appointment,
            "site": appointment.site,
            "changeable_until": _time_label(
                _changeable_until(appointment), appointment.site.timezone, year=True
            ),
            "cutoff": _duration(appointment.site.cancellation_cutoff_minutes),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@role_required(*PATIENT)
def reschedule(request: HttpRequest, public_id) -> HttpResponse:
    """Move to another free time of the same practitioner (one click on the new time)."""
    appointment = selectors.appointment_get(
        actor=request.user, public_id=public_id, action="change", view=_view_name(request)
    )
    if appointment.status != Status.BOOKED:
        messages.info(request, "Only a booked appointment can be moved.")
        return redirect(_detail_url(appointment))
    site = appointment.site
    practitioner = appointment.practitioner
    status = 200
    refusal = ""
    alternatives: list[Alternative] = []
    if request.method == "POST":
        form = forms.RescheduleForm(request.POST)
        if not form.is_valid():
            refusal = "Choose one of the free times below."
            status = 400
        else:
            try:
                services.appointment_reschedule(
                    actor=request.user,
                    appointment=appointment,
                    start=form.cleaned_data["start"],
                    mode=form.cleaned_data["mode"],
                )
            except services.SlotUnavailable as exc:
                refusal = exc.message
                alternatives = _alternatives(exc.extra.get("alternatives", []), site.timezone)
                status = 409
            except ServiceError as exc:
                refusal = exc.message
                status = exc.status
            else:
                appointment.refresh_from_db(fields=["site"])
                messages.success(
                    request,
                    "Your appointment has been moved to "
                    f"{_time_label(appointment.start, appointment.site.timezone, year=True)}.",
                )
                return redirect(_detail_url(appointment))
    filters = forms.RescheduleFilterForm(request.GET or None, initial={"mode": appointment.mode})
    filters.is_valid()
    chosen = getattr(filters, "cleaned_data", {})
    mode = chosen.get("mode") or appointment.mode
    today = _today_in(site.timezone)
    day = max(chosen.get("date") or today, today)
    free = selectors.practitioner_free_days(
        actor=request.user,
        practitioner=practitioner,
        day=day,
        days=SLOT_DAYS,
        mode=mode,
        for_patient_id=appointment.patient_id,
        ignore_appointment_id=appointment.pk,
    )
    sites = {s.pk: s for s in practitioner.sites.all()}
    zones = {pk: s.timezone for pk, s in sites.items()}
    choices = [_choice(s, zones, sites) for s in free if s.start != appointment.start]
    days = _by_day(choices)
    now = timezone.now()
    return render(
        request,
        "scheduling/patient/reschedule.html",
        {
            "row": _row(appointment, now, True),
            "appointment": appointment,
            "site": site,
            "filters": filters,
            "mode": mode,
            "mode_label": Mode(mode).label,
            "days": days,
            "refusal": refusal,
            "alternatives": alternatives,
            "first_day": day,
            "post_url": request.get_full_path(),
            "later_url": _url(
                "reschedule",
                {"date": (day + timedelta(days=SLOT_DAYS)).isoformat(), "mode": mode},
                public_id=appointment.public_id,
            ),
            "zone": _zone_label(appointment.start, site.timezone),
        },
        status=status,
    )


# --- waitlist and offers -------------------------------------------------------------------------
@dataclass
class OfferRow:
    offer: Any
    when: str
    zone: str
    expires: str  # "09:15 GMT"
    minutes_left: int


def _waitlist_page(request: HttpRequest, form: forms.WaitlistJoinForm, status: int = 200):
    patient = patients.patient_of_user(user=request.user)
    overview = (
        selectors.waitlist_overview(actor=request.user, patient=patient, view=_view_name(request))
        if patient is not None
        else selectors.WaitlistOverview(entries=[], offers=[])
    )
    offers = []
    now = timezone.now()
    for offer in overview.offers:
        tz_name = offer.site.timezone
        expires = _local(offer.expires_at, tz_name)
        offers.append(
            OfferRow(
                offer=offer,
                when=_time_label(offer.start, tz_name, year=True),
                zone=_zone_label(offer.start, tz_name),
                expires=f"{expires:%H:%M} {expires.tzname() or ''}".strip(),
                minutes_left=max(1, int((offer.expires_at - now).total_seconds() // 60)),
            )
        )
    active = {WaitlistStatus.WAITING, WaitlistStatus.OFFERED}
    return render(
        request,
        "scheduling/patient/waitlist.html",
        {
            "form": form,
            "offers": offers,
            "entries": [e for e in overview.entries if e.status in active],
            "ended": [e for e in overview.entries if e.status not in active][:20],
            "hold_minutes": settings.WAITLIST_OFFER_MINUTES,
        },
        status=status,
    )


def _join_form(request: HttpRequest, data=None) -> forms.WaitlistJoinForm:
    today = timezone.localdate()
    initial = {
        "practitioner": request.GET.get("practitioner", ""),
        "specialty": request.GET.get("specialty", ""),
        "date_from": today,
        "date_to": today + timedelta(days=30),
    }
    return forms.WaitlistJoinForm(
        data,
        initial=initial,
        practitioners=directory.practitioner_list(actor=request.user).filter(user__is_active=True),
        specialties=selectors.bookable_specialties(),
        sites=directory.site_list(actor=request.user),
    )


@require_GET
@role_required(*PATIENT)
def waitlist(request: HttpRequest) -> HttpResponse:
    """The patient's waitlist requests, their open offers, and a form to join."""
    return _waitlist_page(request, _join_form(request))


@require_POST
@role_required(*PATIENT)
def waitlist_join(request: HttpRequest) -> HttpResponse:
    form = _join_form(request, request.POST)
    if not form.is_valid():
        return _waitlist_page(request, form, status=400)
    try:
        entry = services.waitlist_join(actor=request.user, **form.service_data())
    except ServiceError as exc:
        if isinstance(exc, NotFound | Forbidden):
            raise
        forms.apply_service_error(form, exc)
        return _waitlist_page(request, form, status=exc.status)
    if entry.status == WaitlistStatus.OFFERED:
        messages.success(request, "A free time is available now: it is held for you below.")
    else:
        messages.success(
            request, "You are on the waitlist. We will tell you here when a time frees up."
        )
    return redirect("scheduling:waitlist")


@require_POST
@role_required(*PATIENT)
def waitlist_leave(request: HttpRequest, public_id) -> HttpResponse:
    entry = selectors.waitlist_entry_get(actor=request.user, public_id=public_id)
    try:
        services.waitlist_leave(actor=request.user, entry=entry)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "You have left this waitlist.")
    return redirect("scheduling:waitlist")


@require_POST
@role_required(*PATIENT)
def offer_accept(request: HttpRequest, public_id) -> HttpResponse:
    """Book the time held for the patient."""
    offer = selectors.offer_get(actor=request.user, public_id=public_id)
    try:
        appointment = services.offer_accept(actor=request.user, offer=offer)
    except ServiceError as exc:
        if isinstance(exc, NotFound | Forbidden):
            raise
        messages.error(request, exc.message)
        return redirect("scheduling:waitlist")
    messages.success(
        request,
        f"Booked: {_time_label(appointment.start, appointment.site.timezone, year=True)} "
        f"with {offer.practitioner.display_name}.",
    )
    return redirect(_detail_url(appointment))


@require_POST
@role_required(*PATIENT)
def offer_decline(request: HttpRequest, public_id) -> HttpResponse:
    """Pass on the held time; the patient stays on the waitlist for later ones."""
    offer = selectors.offer_get(actor=request.user, public_id=public_id)
    try:
        services.offer_decline(actor=request.user, offer=offer)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Offer declined. You stay on the waitlist for other times.")
    return redirect("scheduling:waitlist")


def _today_in(tz_name: str) -> date:
    return datetime.now(zone(tz_name)).date()

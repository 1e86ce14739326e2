"""Writes of the scheduling app: booking, rescheduling, cancelling, status changes, staff
reassignment, availability changes, the waitlist and its offers, calendar feeds.

No double booking, by construction: every booking re-checks the slot inside its transaction
(on SQLite the transaction holds the database's write lock from its first statement, so
bookings are serialised), and the database itself refuses two overlapping active appointments
of one practitioner or one patient (PostgreSQL exclusion constraints, SQLite triggers; see
migration 0002). A booking that loses a race gets `SlotUnavailable` (409) with the nearest free
alternatives, never a 500."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.audit import services as audit
from carehub.core.exceptions import Conflict, Forbidden, ServiceError, ValidationFailed
from carehub.notifications import services as notifications
from carehub.patients import selectors as patients
from carehub.patients import services as patient_services
from carehub.patients.choices import RelationshipSource
from carehub.patients.policies import ADMINISTRATIVE_ROLES
from carehub.scheduling import selectors
from carehub.scheduling import slots as engine
from carehub.scheduling.choices import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    ExceptionKind,
    Mode,
    OfferStatus,
    RuleMode,
    Status,
    WaitlistStatus,
)
from carehub.scheduling.models import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    CalendarFeed,
    WaitlistEntry,
    WaitlistOffer,
)

ALTERNATIVES = 5
CHECK_IN_FROM = timedelta(hours=12)  # how long before its start a patient can be checked in
# Reception and administrators check patients in and record no-shows; the visit itself
# (start, complete) is the clinicians'.
RECEPTION_TRANSITIONS = frozenset({Status.CHECKED_IN, Status.NO_SHOW})
MAX_REASON = 1000


class SlotUnavailable(Conflict):
    """409: the requested time cannot be booked; `extra["alternatives"]` lists free slots."""

    search: tuple | None = None  # what to look up alternatives with (see _with_alternatives)


def when(moment: datetime, tz_name: str) -> str:
    """'Tue 3 Dec 2026, 10:00' in the site's time zone (for messages)."""
    local = moment.astimezone(engine.zone(tz_name))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def slot_json(
    slot: engine.Slot, practitioner_public_id: Any = None, mode: str | None = None
) -> dict:
    data = {
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "mode": mode or slot.modes[0],
    }
    if practitioner_public_id is not None:
        data["practitioner"] = str(practitioner_public_id)
    return data


# --- helpers -----------------------------------------------------------------------------------
def _aware_utc(value: datetime) -> datetime:
    if timezone.is_naive(value):
        raise ValidationFailed(
            "Give the start time with its UTC offset (ISO 8601), e.g. 2026-12-01T09:00:00+01:00.",
            field_errors={"start": ["A time zone offset is required."]},
        )
    return value.astimezone(UTC)


def _is_staff(actor) -> bool:
    return actor.role in ADMINISTRATIVE_ROLES or actor.role in CLINICIAN_ROLES


def _alternatives(
    practitioner,
    around: datetime,
    mode: str,
    patient_id: int | None,
    staff: bool,
    ignore_appointment_id: int | None = None,
) -> list[dict]:
    """The next free slots of the same practitioner from `around` (or now) on, as JSON."""
    found = selectors.slots_after(
        practitioner_id=practitioner.pk,
        around=around,
        mode=mode,
        for_patient_id=patient_id,
        staff=staff,
        ignore_appointment_id=ignore_appointment_id,
        count=ALTERNATIVES,
    )
    return [slot_json(s, practitioner.public_id, mode) for s in found]


def _refuse(code: str, message: str, practitioner, start, mode, patient_id, staff, ignore=None):
    """Refuse the time. The alternatives are looked up by `_with_alternatives` once the
    booking's transaction has ended, so a loser does not search while holding the write lock
    (SQLite) or its savepoint (PostgreSQL)."""
    exc = SlotUnavailable(message, code=code, alternatives=[])
    exc.search = (practitioner, start, mode, patient_id, staff, ignore)
    raise exc


def _with_alternatives[F: Callable[..., Any]](func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SlotUnavailable as exc:
            if exc.search is not None and not exc.extra.get("alternatives"):
                exc.extra["alternatives"] = _alternatives(*exc.search)
            raise

    return cast(F, wrapper)


def _check_slot(
    *,
    practitioner,
    start: datetime,
    mode: str,
    patient_id: int,
    staff: bool,
    ignore_appointment_id: int | None = None,
) -> tuple[engine.Slot, selectors.SiteRules]:
    """The free slot starting at `start` in `mode` and its site's booking rules, or
    SlotUnavailable saying why not."""
    now = timezone.now()
    args = (practitioner, start, mode, patient_id, staff, ignore_appointment_id)
    if start <= now:
        _refuse("past", "This time is in the past.", *args)
    loaded, sites = selectors.availability_load(
        [practitioner.pk],
        start - timedelta(days=1),
        start + timedelta(days=1),
        for_patient_id=patient_id,
        ignore_appointment_id=ignore_appointment_id,
    )
    av = loaded[practitioner.pk]
    window_end = start + timedelta(minutes=1)
    offered = engine.free_slots(
        rules=av.rules,
        extras=av.extras,
        blocks=av.blocks,
        window_start=start,
        window_end=window_end,
        mode=mode,
    )
    if not offered or offered[0].start != start:
        _refuse(
            "outside_availability",
            "The practitioner does not see patients at this time in this mode.",
            *args,
        )
    slot = offered[0]
    site = sites[slot.site_id]
    if not staff and start < now + site.min_notice:
        minutes = int(site.min_notice.total_seconds() // 60)
        _refuse(
            "too_soon",
            f"Appointments must be booked at least {minutes} minutes ahead; "
            "call the clinic for an earlier time.",
            *args,
        )
    if start >= now + site.horizon:
        _refuse(
            "beyond_horizon",
            f"Appointments can be booked up to {site.horizon.days} days ahead.",
            *args,
        )
    if not engine.free_slots(
        rules=av.rules,
        extras=av.extras,
        blocks=av.blocks,
        busy=av.busy,
        window_start=start,
        window_end=window_end,
        mode=mode,
    ):
        _refuse("taken", "This time has just been booked by someone else.", *args)
    return slot, site


def _overlap_refused(exc: Exception) -> bool:
    """The database refused an overlapping appointment: its exclusion constraint or trigger
    (IntegrityError) or, on PostgreSQL, a deadlock between two inserts that each wait for the
    other's conflicting row while checking that constraint (SQLSTATE 40P01). Either way this
    write lost the race."""
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _check_patient_free(
    patient_id: int, start: datetime, end: datetime, ignore: int | None
) -> None:
    clash = Appointment.objects.filter(
        patient_id=patient_id, status__in=ACTIVE_STATUSES, start__lt=end, end__gt=start
    )
    if ignore is not None:
        clash = clash.exclude(pk=ignore)
    if clash.exists():
        raise Conflict(
            "You already have an appointment at this time.", code="patient_overlap", alternatives=[]
        )


def _notify_patient(patient, kind: str, title: str, url: str = "") -> None:
    if patient.user_id:
        notifications.notify(recipient=patient.user, kind=kind, title=title, url=url)


def _notify_practitioner(practitioner, kind: str, title: str, url: str = "") -> None:
    notifications.notify(recipient=practitioner.user, kind=kind, title=title, url=url)


def _appointment_url(appointment: Appointment) -> str:
    return reverse("scheduling:detail", kwargs={"public_id": appointment.public_id})


def _resolve_patient(actor, patient_public_id):
    if actor.role == Role.PATIENT:
        own = patients.patient_of_user(user=actor)
        if own is None:
            raise ServiceError("No patient record is linked to this account.")
        if patient_public_id and str(patient_public_id) != str(own.public_id):
            raise Forbidden("Patients book for themselves only.")
        return own
    if not _is_staff(actor):
        raise Forbidden("You cannot book appointments.")
    if not patient_public_id:
        raise ValidationFailed(
            "Say which patient the appointment is for.",
            field_errors={"patient": ["This field is required."]},
        )
    action = "change" if actor.role in ADMINISTRATIVE_ROLES else "view"
    return patients.patient_ref_get(actor=actor, public_id=patient_public_id, action=action)


# --- booking ----------------------------------------------------------------------------------
@_with_alternatives
def appointment_book(
    *,
    actor,
    practitioner,
    start: datetime,
    mode: str,
    reason: str = "",
    patient_public_id=None,
) -> Appointment:
    """Book `start` with `practitioner` for the actor (a patient) or for `patient_public_id`
    (staff). SlotUnavailable (409) when the time is not a free slot, Conflict when the patient
    has another appointment then."""
    if mode not in Mode.values:
        raise ValidationFailed(
            "Unknown mode.", field_errors={"mode": ["Choose in_person or video."]}
        )
    if len(reason or "") > MAX_REASON:
        raise ValidationFailed(
            "The reason is too long.",
            field_errors={"reason": [f"At most {MAX_REASON} characters."]},
        )
    start = _aware_utc(start)
    patient = _resolve_patient(actor, patient_public_id)
    staff = actor.role != Role.PATIENT
    with transaction.atomic():
        slot, site = _check_slot(
            practitioner=practitioner, start=start, mode=mode, patient_id=patient.pk, staff=staff
        )
        _check_patient_free(patient.pk, slot.start, slot.end, None)
        try:
            with transaction.atomic():
                appointment = Appointment.objects.create(
                    practitioner=practitioner,
                    patient=patient,
                    site_id=slot.site_id,
                    start=slot.start,
                    end=slot.end,
                    mode=mode,
                    reason=(reason or "").strip(),
                    booked_by=actor,
                )
        except (IntegrityError, OperationalError) as exc:
            # Lost a race the database caught (PostgreSQL exclusion constraint).
            if not _overlap_refused(exc):
                raise
            _refuse(
                "taken",
                "This time has just been booked by someone else.",
                practitioner,
                start,
                mode,
                patient.pk,
                staff,
            )
        patient_services.care_relationship_ensure(
            actor=actor,
            practitioner=practitioner,
            patient=patient,
            source=RelationshipSource.APPOINTMENT,
        )
        _close_offers_for(patient.pk, practitioner.pk, slot.start, appointment)
        audit.event_record(
            actor=actor, name="appointment.booked", patient_id=patient.public_id, obj=appointment
        )
        tz_name = site.timezone
        url = _appointment_url(appointment)
        if actor.role == Role.PATIENT:
            _notify_practitioner(
                practitioner,
                "appointment.booked",
                f"Appointment booked for {when(slot.start, tz_name)}",
                url,
            )
        else:
            _notify_patient(
                patient,
                "appointment.booked",
                f"An appointment was booked for you: {when(slot.start, tz_name)}",
                url,
            )
    return appointment


def _close_offers_for(patient_id: int, practitioner_id: int, start: datetime, appointment) -> None:
    """A booking by a waiting patient: their open offer for this slot is accepted and the entry
    that made it is booked. Other entries and offers stay: a patient who books a later time
    directly may still want an earlier one from the waitlist."""
    entries = WaitlistEntry.objects.select_for_update().filter(
        patient_id=patient_id, status=WaitlistStatus.OFFERED
    )
    # Lock order: entries, then offers. A patient with no open offer costs this one query.
    if not list(entries.values_list("pk", flat=True)):
        return
    offers = WaitlistOffer.objects.filter(
        entry__patient_id=patient_id, status=OfferStatus.OPEN, practitioner_id=practitioner_id
    ).select_related("entry")
    for offer in offers:
        if offer.start == start:
            offer.status = OfferStatus.ACCEPTED
            offer.appointment = appointment
            offer.save(update_fields=["status", "appointment", "updated_at"])
            offer.entry.status = WaitlistStatus.BOOKED
            offer.entry.save(update_fields=["status", "updated_at"])


def _patient_may_change(actor, appointment: Appointment) -> None:
    if actor.role != Role.PATIENT:
        return
    cutoff = selectors.site_rules(appointment.site_id).cancellation_cutoff
    if appointment.start - timezone.now() < cutoff:
        hours = cutoff.total_seconds() / 3600
        raise Conflict(
            f"Appointments can be changed online until {hours:g} hours before they start; "
            "please call the clinic.",
            code="cutoff",
        )


@_with_alternatives
def appointment_reschedule(
    *, actor, appointment: Appointment, start: datetime, mode: str | None = None
) -> Appointment:
    """Move a booked appointment to another free slot of the same practitioner."""
    start = _aware_utc(start)
    mode = mode or appointment.mode
    if mode not in Mode.values:
        raise ValidationFailed(
            "Unknown mode.", field_errors={"mode": ["Choose in_person or video."]}
        )
    if appointment.status != Status.BOOKED:
        raise Conflict("Only a booked appointment can be rescheduled.", code="status")
    _patient_may_change(actor, appointment)
    staff = actor.role != Role.PATIENT
    practitioner = appointment.practitioner
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Status.BOOKED:
            raise Conflict("Only a booked appointment can be rescheduled.", code="status")
        slot, site = _check_slot(
            practitioner=practitioner,
            start=start,
            mode=mode,
            patient_id=appointment.patient_id,
            staff=staff,
            ignore_appointment_id=appointment.pk,
        )
        _check_patient_free(appointment.patient_id, slot.start, slot.end, appointment.pk)
        old_start = appointment.start
        appointment.start, appointment.end = slot.start, slot.end
        appointment.site_id = slot.site_id
        appointment.mode = mode
        appointment.reschedule_count += 1
        try:
            with transaction.atomic():
                appointment.save(
                    update_fields=["start", "end", "site", "mode", "reschedule_count", "updated_at"]
                )
        except (IntegrityError, OperationalError) as exc:
            if not _overlap_refused(exc):
                raise
            appointment.refresh_from_db()
            _refuse(
                "taken",
                "This time has just been booked by someone else.",
                practitioner,
                start,
                mode,
                appointment.patient_id,
                staff,
                appointment.pk,
            )
        audit.event_record(
            actor=actor,
            name="appointment.rescheduled",
            patient_id=appointment.patient.public_id,
            obj=appointment,
            data={"from": old_start.isoformat(), "to": slot.start.isoformat()},
        )
        tz_name = site.timezone
        message = (
            f"Appointment moved from {when(old_start, tz_name)} to {when(slot.start, tz_name)}"
        )
        if actor.role == Role.PATIENT:
            _notify_practitioner(
                practitioner, "appointment.rescheduled", message, _appointment_url(appointment)
            )
        else:
            _notify_patient(
                appointment.patient,
                "appointment.rescheduled",
                message,
                _appointment_url(appointment),
            )
        waitlist_fill(practitioner_id=practitioner.pk)
    return appointment


def appointment_cancel(*, actor, appointment: Appointment, reason: str) -> Appointment:
    """Cancel a booked appointment (patients: until the site's cutoff). The freed slot goes to
    the waitlist."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why the appointment is cancelled.",
            field_errors={"reason": ["This field is required."]},
        )
    if len(reason) > 300:
        raise ValidationFailed(
            "The reason is too long.", field_errors={"reason": ["At most 300 characters."]}
        )
    if appointment.status != Status.BOOKED:
        raise Conflict("Only a booked appointment can be cancelled.", code="status")
    _patient_may_change(actor, appointment)
    with transaction.atomic():
        _cancel(actor, appointment, reason)
        tz_name = selectors.site_rules(appointment.site_id).timezone
        message = f"Appointment on {when(appointment.start, tz_name)} cancelled"
        if actor.role == Role.PATIENT:
            _notify_practitioner(
                appointment.practitioner,
                "appointment.cancelled",
                message,
                _appointment_url(appointment),
            )
        else:
            _notify_patient(
                appointment.patient,
                "appointment.cancelled",
                f"{message}: {reason}",
                _appointment_url(appointment),
            )
        waitlist_fill(practitioner_id=appointment.practitioner_id)
    return appointment


def _cancel(actor, appointment: Appointment, reason: str) -> None:
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.status != Status.BOOKED:
        raise Conflict("Only a booked appointment can be cancelled.", code="status")
    appointment.status = Status.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = actor
    appointment.cancel_reason = reason
    appointment.save(
        update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason", "updated_at"]
    )
    audit.event_record(
        actor=actor,
        name="appointment.cancelled",
        patient_id=appointment.patient.public_id,
        obj=appointment,
    )


def appointment_transition(*, actor, appointment: Appointment, status: str) -> Appointment:
    """Staff move an appointment along booked → checked_in → in_progress → completed, or mark
    a no-show. Cancelling goes through `appointment_cancel` (it needs a reason)."""
    if not _is_staff(actor):
        raise Forbidden("Only staff change an appointment's status.")
    if status not in Status.values or status == Status.CANCELLED:
        raise ValidationFailed(
            "Unknown status.",
            field_errors={"status": ["Choose checked_in, in_progress, completed or no_show."]},
        )
    if actor.role not in CLINICIAN_ROLES and status not in RECEPTION_TRANSITIONS:
        raise Forbidden(
            "Reception checks patients in or records a no-show; clinicians do the rest."
        )
    now = timezone.now()
    with transaction.atomic():
        # The status is checked on the locked row: a cancellation that landed meanwhile wins.
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        appointment.status = current.status
        _transition_allowed(appointment, status, now)
        appointment.status = status
        fields = ["status", "updated_at"]
        if status == Status.CHECKED_IN:
            appointment.checked_in_at = now
            fields.append("checked_in_at")
        if status == Status.COMPLETED:
            appointment.completed_at = now
            fields.append("completed_at")
        appointment.save(update_fields=fields)
        audit.event_record(
            actor=actor,
            name=f"appointment.{status}",
            patient_id=appointment.patient.public_id,
            obj=appointment,
        )
    return appointment


def transition_refusal(appointment: Appointment, status: str, now: datetime) -> str:
    """Why `appointment` cannot move to `status` now ("" when it can). Pages use it to offer
    only the buttons that will work; the service enforces it."""
    if status not in TRANSITIONS[appointment.status]:
        return (
            f"An appointment that is {appointment.get_status_display().lower()} cannot become "
            f"{Status(status).label.lower()}."
        )
    if (
        status in {Status.CHECKED_IN, Status.IN_PROGRESS}
        and now < appointment.start - CHECK_IN_FROM
    ):
        return "Patients can be checked in on the day of their appointment."
    if status == Status.NO_SHOW and now < appointment.start:
        return "A no-show can be recorded once the appointment has started."
    return ""


def _transition_allowed(appointment: Appointment, status: str, now: datetime) -> None:
    why = transition_refusal(appointment, status, now)
    if why:
        code = "status" if status not in TRANSITIONS[appointment.status] else "too_early"
        raise Conflict(why, code=code)


# --- reassignment --------------------------------------------------------------------------------
@dataclass
class ReassignResult:
    moved: list[Appointment] = field(default_factory=list)
    cancelled: list[Appointment] = field(default_factory=list)
    left: list[tuple[Appointment, str]] = field(default_factory=list)


def _shares_specialty(a, b) -> bool:
    return bool({s.pk for s in a.specialties.all()} & {s.pk for s in b.specialties.all()})


def appointments_of_day(*, practitioner, day: date) -> list[Appointment]:
    """Booked appointments of a practitioner on a local date (each in its site's zone)."""
    rough_start = datetime.combine(day - timedelta(days=1), time.min, tzinfo=UTC)
    rough_end = datetime.combine(day + timedelta(days=2), time.min, tzinfo=UTC)
    rows = (
        Appointment.objects.filter(
            practitioner=practitioner,
            status=Status.BOOKED,
            start__gte=rough_start,
            start__lt=rough_end,
        )
        .select_related("site", "patient")
        .order_by("start")
    )
    return [a for a in rows if a.start.astimezone(engine.zone(a.site.timezone)).date() == day]


def appointments_reassign(
    *, actor, practitioner, day: date, target=None, cancel_reason: str = ""
) -> ReassignResult:
    """When `practitioner` cannot work on `day`: move each booked appointment to `target` (same
    specialty, free at that time, works at that site) or, without a target, cancel them all with
    `cancel_reason`. One transaction; each change audited, each patient told. Appointments that
    cannot move are left in place and listed."""
    if actor.role not in ADMINISTRATIVE_ROLES:
        raise Forbidden("Only reception or an administrator can reassign appointments.")
    if target is None and not (cancel_reason or "").strip():
        raise ValidationFailed(
            "Choose a practitioner to move the appointments to, or give a reason to cancel them.",
            field_errors={"cancel_reason": ["Required when no practitioner is chosen."]},
        )
    if target is not None:
        if target.pk == practitioner.pk:
            raise ValidationFailed(
                "Choose another practitioner.", field_errors={"target": ["Same practitioner."]}
            )
        if not _shares_specialty(practitioner, target):
            raise ValidationFailed(
                "The practitioners do not share a specialty.",
                field_errors={"target": ["Choose a practitioner of the same specialty."]},
            )
    result = ReassignResult()
    with transaction.atomic():
        day_rows = appointments_of_day(practitioner=practitioner, day=day)
        hours = target_hours(target, day_rows) if target is not None else None
        for appointment in day_rows:
            tz_name = appointment.site.timezone
            if target is None:
                _cancel(actor, appointment, cancel_reason.strip())
                _notify_patient(
                    appointment.patient,
                    "appointment.cancelled",
                    f"Appointment on {when(appointment.start, tz_name)} cancelled by the clinic: "
                    f"{cancel_reason.strip()}",
                    _appointment_url(appointment),
                )
                result.cancelled.append(appointment)
                continue
            why = _target_refuses(target, appointment, hours)
            if why:
                result.left.append((appointment, why))
                continue
            appointment.practitioner = target
            try:
                with transaction.atomic():
                    appointment.save(update_fields=["practitioner", "updated_at"])
            except (IntegrityError, OperationalError) as exc:
                if not _overlap_refused(exc):
                    raise
                appointment.practitioner = practitioner
                result.left.append((appointment, "The practitioner was booked at that time."))
                continue
            patient_services.care_relationship_ensure(
                actor=actor,
                practitioner=target,
                patient=appointment.patient,
                source=RelationshipSource.APPOINTMENT,
            )
            audit.event_record(
                actor=actor,
                name="appointment.reassigned",
                patient_id=appointment.patient.public_id,
                obj=appointment,
                data={"from": str(practitioner.public_id), "to": str(target.public_id)},
            )
            _notify_patient(
                appointment.patient,
                "appointment.reassigned",
                f"Your appointment on {when(appointment.start, tz_name)} is now with "
                f"{target.display_name}",
                _appointment_url(appointment),
            )
            _notify_practitioner(
                target,
                "appointment.reassigned",
                f"Appointment on {when(appointment.start, tz_name)} reassigned to you",
                _appointment_url(appointment),
            )
            result.moved.append(appointment)
    return result


def target_hours(target, appointments: list[Appointment]) -> selectors.Availability | None:
    """The colleague's availability over the appointments being moved (one load for all)."""
    if not appointments:
        return None
    loaded, _ = selectors.availability_load(
        [target.pk],
        min(a.start for a in appointments),
        max(a.end for a in appointments),
        with_busy=False,
    )
    return loaded[target.pk]


def _target_refuses(
    target, appointment: Appointment, hours: selectors.Availability | None = None
) -> str:
    if not any(site.pk == appointment.site_id for site in target.sites.all()):
        return f"{target.display_name} does not work at {appointment.site.name}."
    busy = Appointment.objects.filter(
        practitioner=target,
        status__in=ACTIVE_STATUSES,
        start__lt=appointment.end,
        end__gt=appointment.start,
    ).exists()
    if busy:
        return f"{target.display_name} has another appointment at that time."
    away = (
        AvailabilityException.objects.filter(
            practitioner=target, start__lt=appointment.end, end__gt=appointment.start
        )
        .filter(~Q(kind=ExceptionKind.EXTRA))
        .filter(Q(site__isnull=True) | Q(site_id=appointment.site_id))
    )
    if away.exists():
        return f"{target.display_name} is not available at that time."
    if hours is None:
        hours = target_hours(target, [appointment])
    assert hours is not None
    if not selectors.within_hours(hours, appointment):
        return f"{target.display_name} does not see patients at that time."
    return ""


# --- availability -------------------------------------------------------------------------------
def _may_manage(actor, practitioner) -> None:
    if actor.role == Role.CLINIC_ADMIN:
        return
    if actor.role == Role.DOCTOR and practitioner.user_id == actor.pk:
        return
    raise Forbidden("You can manage your own availability only.")


def _works_at(practitioner, site) -> None:
    if not any(s.pk == site.pk for s in practitioner.sites.all()):
        raise ValidationFailed(
            f"{practitioner.display_name} does not work at {site.name}.",
            field_errors={"site": ["Choose one of the practitioner's sites."]},
        )


def rule_save(
    *,
    actor,
    practitioner,
    site,
    weekday: int,
    start_time: time,
    end_time: time,
    slot_minutes: int,
    mode: str,
    valid_from: date | None = None,
    valid_until: date | None = None,
    rule: AvailabilityRule | None = None,
) -> tuple[AvailabilityRule, list[Appointment]]:
    """Create or change a weekly rule. Returns the rule and the future appointments that no
    longer fit the practitioner's availability (to reschedule or reassign)."""
    _may_manage(actor, practitioner)
    _works_at(practitioner, site)
    errors: dict[str, list[str]] = {}
    if weekday not in range(7):
        errors["weekday"] = ["Choose a day of the week."]
    if start_time >= end_time:
        errors["end_time"] = ["The end must be after the start."]
    if not 5 <= slot_minutes <= 240:
        errors["slot_minutes"] = ["Between 5 and 240 minutes."]
    if mode not in RuleMode.values:
        errors["mode"] = ["Choose in person, video or both."]
    if valid_from and valid_until and valid_from > valid_until:
        errors["valid_until"] = ["Must be on or after the first day."]
    if errors:
        raise ValidationFailed("Correct the availability rule.", field_errors=errors)
    clash = AvailabilityRule.objects.filter(
        practitioner=practitioner,
        weekday=weekday,
        start_time__lt=end_time,
        end_time__gt=start_time,
    )
    if rule is not None:
        clash = clash.exclude(pk=rule.pk)
    for other in clash:
        if _date_ranges_overlap(valid_from, valid_until, other.valid_from, other.valid_until):
            raise ValidationFailed(
                "This overlaps another rule of the same day "
                f"({other.start_time:%H:%M}-{other.end_time:%H:%M}).",
                field_errors={"start_time": ["Overlaps another rule."]},
            )
    with transaction.atomic():
        rule = rule or AvailabilityRule(practitioner=practitioner)
        rule.site = site
        rule.weekday = weekday
        rule.start_time, rule.end_time = start_time, end_time
        rule.slot_minutes, rule.mode = slot_minutes, mode
        rule.valid_from, rule.valid_until = valid_from, valid_until
        rule.save()
        waitlist_fill(practitioner_id=practitioner.pk)
    return rule, selectors.availability_conflicts(practitioner_id=practitioner.pk)


def _date_ranges_overlap(a_from, a_to, b_from, b_to) -> bool:
    lo = max(a_from or date.min, b_from or date.min)
    hi = min(a_to or date.max, b_to or date.max)
    return lo <= hi


def rule_delete(*, actor, rule: AvailabilityRule) -> list[Appointment]:
    _may_manage(actor, rule.practitioner)
    with transaction.atomic():
        practitioner_id = rule.practitioner_id
        rule.delete()
    return selectors.availability_conflicts(practitioner_id=practitioner_id)


def exception_add(
    *,
    actor,
    practitioner,
    kind: str,
    start: datetime,
    end: datetime,
    site=None,
    slot_minutes: int | None = None,
    mode: str = "",
    note: str = "",
) -> tuple[AvailabilityException, list[Appointment]]:
    """Leave, a holiday, blocked hours or an extra session. Returns it and the future
    appointments now outside availability."""
    _may_manage(actor, practitioner)
    errors: dict[str, list[str]] = {}
    if kind not in ExceptionKind.values:
        errors["kind"] = ["Choose leave, holiday, blocked hours or extra session."]
    start, end = _aware_utc(start), _aware_utc(end)
    if start >= end:
        errors["end"] = ["The end must be after the start."]
    if end - start > timedelta(days=366):
        errors["end"] = ["At most a year at a time."]
    if kind == ExceptionKind.EXTRA:
        if site is None:
            errors["site"] = ["An extra session needs a site."]
        if not slot_minutes or not 5 <= slot_minutes <= 240:
            errors["slot_minutes"] = ["Between 5 and 240 minutes."]
        if mode and mode not in RuleMode.values:
            errors["mode"] = ["Choose in person, video or both."]
    if errors:
        raise ValidationFailed("Correct the exception.", field_errors=errors)
    if site is not None:
        _works_at(practitioner, site)
    with transaction.atomic():
        exception = AvailabilityException.objects.create(
            practitioner=practitioner,
            site=site,
            kind=kind,
            start=start,
            end=end,
            slot_minutes=slot_minutes if kind == ExceptionKind.EXTRA else None,
            mode=(mode or RuleMode.BOTH) if kind == ExceptionKind.EXTRA else "",
            note=(note or "").strip()[:200],
            created_by=actor,
        )
        if kind == ExceptionKind.EXTRA:
            waitlist_fill(practitioner_id=practitioner.pk)
        else:
            _withdraw_offers_in(practitioner.pk, start, end)
    return exception, selectors.availability_conflicts(practitioner_id=practitioner.pk)


def exception_delete(*, actor, exception: AvailabilityException) -> list[Appointment]:
    _may_manage(actor, exception.practitioner)
    practitioner_id = exception.practitioner_id
    with transaction.atomic():
        exception.delete()
        waitlist_fill(practitioner_id=practitioner_id)
    return selectors.availability_conflicts(practitioner_id=practitioner_id)


# --- waitlist -------------------------------------------------------------------------------------
def waitlist_join(
    *,
    actor,
    date_from: date,
    date_to: date,
    practitioner=None,
    specialty=None,
    site=None,
    mode: str = "",
    patient_public_id=None,
) -> WaitlistEntry:
    """Join the waitlist for one practitioner or any practitioner of a specialty. If a slot is
    free already, the offer comes at once."""
    patient = _resolve_patient(actor, patient_public_id)
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    if practitioner is None and specialty is None:
        errors["specialty"] = ["Choose a practitioner or a specialty."]
    if date_from < today:
        errors["date_from"] = ["Choose today or a later date."]
    elif date_from > today + timedelta(days=366):
        errors["date_from"] = ["Choose a date within the next year."]
    if date_to < date_from:
        errors["date_to"] = ["Must be on or after the first date."]
    elif (date_to - date_from).days > 120:
        errors["date_to"] = ["At most 120 days."]
    if mode and mode not in Mode.values:
        errors["mode"] = ["Choose in person or video."]
    if errors:
        raise ValidationFailed("Correct the waitlist request.", field_errors=errors)
    with transaction.atomic():
        duplicate = WaitlistEntry.objects.filter(
            patient=patient,
            status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED],
            practitioner=practitioner,
            specialty=None if practitioner else specialty,
        )
        if duplicate.exists():
            raise Conflict("You are already on this waitlist.", code="duplicate")
        entry = WaitlistEntry.objects.create(
            patient=patient,
            practitioner=practitioner,
            specialty=None if practitioner else specialty,
            site=site,
            mode=mode,
            date_from=date_from,
            date_to=date_to,
            created_by=actor,
        )
        audit.event_record(
            actor=actor, name="waitlist.joined", patient_id=patient.public_id, obj=entry
        )
        if practitioner is not None:
            waitlist_fill(practitioner_id=practitioner.pk)
        else:
            for pid in _practitioners_of_specialty(specialty.pk):
                waitlist_fill(practitioner_id=pid)
                entry.refresh_from_db(fields=["status"])
                if entry.status != WaitlistStatus.WAITING:
                    break
    return entry


def _practitioners_of_specialty(specialty_id: int) -> list[int]:
    from carehub.directory import selectors as directory

    return directory.practitioner_ids_of_specialty(specialty_id=specialty_id)


def waitlist_leave(*, actor, entry: WaitlistEntry) -> WaitlistEntry:
    with transaction.atomic():
        entry.status = WaitlistEntry.objects.select_for_update().get(pk=entry.pk).status
        if entry.status not in {WaitlistStatus.WAITING, WaitlistStatus.OFFERED}:
            raise Conflict("This waitlist request has already ended.", code="status")
        freed = set()
        for offer in WaitlistOffer.objects.filter(entry=entry, status=OfferStatus.OPEN):
            offer.status = OfferStatus.WITHDRAWN
            offer.save(update_fields=["status", "updated_at"])
            freed.add(offer.practitioner_id)
        entry.status = WaitlistStatus.LEFT
        entry.save(update_fields=["status", "updated_at"])
        for pid in freed:
            waitlist_fill(practitioner_id=pid)
    return entry


def offer_accept(*, actor, offer: WaitlistOffer, reason: str = "") -> Appointment:
    """Book the held slot (only the patient it is held for)."""
    if offer.status != OfferStatus.OPEN or offer.expires_at <= timezone.now():
        raise Conflict("This offer has expired or was already answered.", code="offer_closed")
    return appointment_book(
        actor=actor,
        practitioner=offer.practitioner,
        start=offer.start,
        mode=offer.mode,
        reason=reason,
        patient_public_id=offer.entry.patient.public_id,
    )


def offer_decline(*, actor, offer: WaitlistOffer) -> WaitlistOffer:
    """Pass: the slot goes to the next in line; the patient keeps their place for later slots."""
    with transaction.atomic():
        # Entry first, then offer: the order every waitlist write locks in (an accept that
        # lands at the same moment either sees this decline or is seen by it).
        WaitlistEntry.objects.select_for_update().filter(pk=offer.entry_id).first()
        current = WaitlistOffer.objects.select_for_update().get(pk=offer.pk)
        if current.status != OfferStatus.OPEN:
            raise Conflict("This offer was already answered.", code="offer_closed")
        offer.entry.refresh_from_db(fields=["status"])
        _close_offer(offer, OfferStatus.DECLINED)
        waitlist_fill(practitioner_id=offer.practitioner_id)
    return offer


def _close_offer(offer: WaitlistOffer, status: str) -> None:
    offer.status = status
    offer.save(update_fields=["status", "updated_at"])
    entry = offer.entry
    if entry.status == WaitlistStatus.OFFERED:
        entry.status = WaitlistStatus.WAITING
        entry.save(update_fields=["status", "updated_at"])


def offers_expire(*, now: datetime | None = None) -> int:
    """Close offers whose hold has run out and pass their slots on (periodic job)."""
    now = now or timezone.now()
    count = 0
    practitioners: set[int] = set()
    with transaction.atomic():
        expired = WaitlistOffer.objects.select_related("entry").filter(
            status=OfferStatus.OPEN, expires_at__lte=now
        )
        for offer in expired:
            _close_offer(offer, OfferStatus.EXPIRED)
            practitioners.add(offer.practitioner_id)
            count += 1
        WaitlistEntry.objects.filter(
            status=WaitlistStatus.WAITING, date_to__lt=now.date() - timedelta(days=1)
        ).update(status=WaitlistStatus.ENDED, updated_at=now)
        for pid in practitioners:
            waitlist_fill(practitioner_id=pid, now=now)
    return count


def _withdraw_offers_in(practitioner_id: int, start: datetime, end: datetime) -> None:
    """Leave entered over a held slot: the hold is withdrawn (the entry waits again)."""
    for offer in WaitlistOffer.objects.select_related("entry").filter(
        practitioner_id=practitioner_id, status=OfferStatus.OPEN, start__lt=end, end__gt=start
    ):
        _close_offer(offer, OfferStatus.WITHDRAWN)


def waitlist_fill(
    *, practitioner_id: int, now: datetime | None = None, limit: int = 50
) -> list[WaitlistOffer]:
    """Offer free slots of a practitioner to waiting patients, first come first served: each
    waiting entry that wants this practitioner (by name or by specialty) gets the earliest free
    slot in its date range that it has not been offered before, held for
    WAITLIST_OFFER_MINUTES. Runs inside the caller's transaction."""
    now = now or timezone.now()
    entries = list(
        WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, date_to__gte=now.date())
        .filter(
            Q(practitioner_id=practitioner_id)
            | Q(practitioner__isnull=True, specialty__practitioners__id=practitioner_id)
        )
        .filter(Q(site__isnull=True) | Q(site__practitioners__id=practitioner_id))
        .select_related("patient")
        .distinct()
        .order_by("created_at", "id")[:limit]
    )
    if not entries:
        return []
    hold = timedelta(minutes=settings.WAITLIST_OFFER_MINUTES)
    practitioner = None
    made: list[WaitlistOffer] = []
    for entry in entries:
        start = max(
            datetime.combine(entry.date_from, time.min, tzinfo=UTC) - timedelta(hours=14), now
        )
        end = datetime.combine(entry.date_to + timedelta(days=1), time.min, tzinfo=UTC) + timedelta(
            hours=12
        )
        if start >= end:
            continue
        free = selectors.free_slots(
            practitioner_ids=[practitioner_id],
            start=start,
            end=end,
            mode=entry.mode or None,
            for_patient_id=entry.patient_id,
            now=now,
        )[practitioner_id]
        seen = set(
            WaitlistOffer.objects.filter(entry=entry, practitioner_id=practitioner_id).values_list(
                "start", flat=True
            )
        )
        busy = list(
            Appointment.objects.filter(
                patient_id=entry.patient_id,
                status__in=ACTIVE_STATUSES,
                end__gt=start,
                start__lt=end,
            ).values_list("start", "end")
        )
        slot = next(
            (
                s
                for s in free
                if s.start not in seen
                and (entry.site_id is None or s.site_id == entry.site_id)
                and _local_date_in(s, entry)
                and not any(b_start < s.end and s.start < b_end for b_start, b_end in busy)
            ),
            None,
        )
        if slot is None:
            continue
        still_waiting = (
            WaitlistEntry.objects.select_for_update()
            .filter(pk=entry.pk, status=WaitlistStatus.WAITING)
            .exists()
        )
        if not still_waiting:
            continue  # left the waitlist (or got an offer) meanwhile
        try:
            with transaction.atomic():
                offer = WaitlistOffer.objects.create(
                    entry=entry,
                    practitioner_id=practitioner_id,
                    site_id=slot.site_id,
                    start=slot.start,
                    end=slot.end,
                    mode=entry.mode or slot.modes[0],
                    expires_at=now + hold,
                )
        except IntegrityError:
            continue  # held for someone else a moment ago
        entry.status = WaitlistStatus.OFFERED
        entry.save(update_fields=["status", "updated_at"])
        audit.event_record(
            actor=None, name="waitlist.offered", patient_id=entry.patient.public_id, obj=offer
        )
        if practitioner is None:
            from carehub.directory import selectors as directory

            practitioner = directory.practitioner_by_id(practitioner_id=practitioner_id)
        tz_name = selectors.site_rules(slot.site_id).timezone
        _notify_patient(
            entry.patient,
            "waitlist.offer",
            f"A slot is free: {when(slot.start, tz_name)} with {practitioner.display_name}. "
            f"It is held for you for {settings.WAITLIST_OFFER_MINUTES} minutes.",
            reverse("scheduling:waitlist"),
        )
        made.append(offer)
    return made


def _local_date_in(slot: engine.Slot, entry: WaitlistEntry) -> bool:
    local = slot.start.astimezone(engine.zone(selectors.site_rules(slot.site_id).timezone)).date()
    return entry.date_from <= local <= entry.date_to


# --- calendar feeds -----------------------------------------------------------------------------
def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_create(*, actor, practitioner) -> tuple[CalendarFeed, str]:
    """A new private feed; the token is returned once and only its hash is kept."""
    _may_manage(actor, practitioner)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        feed = CalendarFeed.objects.create(practitioner=practitioner, token_hash=token_hash(token))
        audit.event_record(actor=actor, name="calendar_feed.created", obj=feed)
    return feed, token


def feed_revoke(*, actor, feed: CalendarFeed) -> CalendarFeed:
    _may_manage(actor, feed.practitioner)
    with transaction.atomic():
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at", "updated_at"])
        audit.event_record(actor=actor, name="calendar_feed.revoked", obj=feed)
    return feed


def feed_touch(*, feed: CalendarFeed) -> None:
    """Remember when a feed was last read (at most once a minute: calendars poll often)."""
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at > timedelta(minutes=1):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)

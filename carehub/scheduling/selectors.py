"""Reads of the scheduling app: free slots, practitioners with their next free slot, and
appointment lists restricted to what the actor may see. A read that shows patients writes one
access-log row per patient (category "appointments")."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.audit.choices import AccessCategory
from carehub.core.exceptions import NotFound
from carehub.patients import selectors as patients
from carehub.scheduling import slots as engine
from carehub.scheduling.choices import ACTIVE_STATUSES, ExceptionKind, OfferStatus, Status
from carehub.scheduling.models import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    CalendarFeed,
    WaitlistEntry,
    WaitlistOffer,
)

Slot = engine.Slot


# --- free slots ------------------------------------------------------------------------------
@dataclass
class SiteRules:
    """Booking rules of one site, as the slot search needs them."""

    timezone: str
    min_notice: timedelta
    horizon: timedelta
    cancellation_cutoff: timedelta


@dataclass
class Availability:
    """Everything the engine needs for one practitioner over one window."""

    rules: list[engine.Rule] = field(default_factory=list)
    extras: list[engine.Extra] = field(default_factory=list)
    blocks: list[engine.Block] = field(default_factory=list)
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)


_SITE_FIELDS = (
    "site_id",
    "site__timezone",
    "site__booking_min_notice_minutes",
    "site__booking_horizon_days",
    "site__cancellation_cutoff_minutes",
)


def _site_rules(row: dict[str, Any], sites: dict[int, SiteRules]) -> None:
    sites.setdefault(
        row["site_id"],
        SiteRules(
            timezone=row["site__timezone"],
            min_notice=timedelta(minutes=row["site__booking_min_notice_minutes"]),
            horizon=timedelta(days=row["site__booking_horizon_days"]),
            cancellation_cutoff=timedelta(minutes=row["site__cancellation_cutoff_minutes"]),
        ),
    )


def availability_load(
    practitioner_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    for_patient_id: int | None = None,
    ignore_appointment_id: int | None = None,
    with_busy: bool = True,
) -> tuple[dict[int, Availability], dict[int, SiteRules]]:
    """Rules, exceptions, busy times and site rules of `practitioner_ids` around [start, end):
    four queries whatever the number of practitioners. Offers held for `for_patient_id` do not
    count as busy for them; `ignore_appointment_id` (an appointment being rescheduled) neither."""
    result: dict[int, Availability] = {pid: Availability() for pid in practitioner_ids}
    sites: dict[int, SiteRules] = {}
    rules = AvailabilityRule.objects.filter(practitioner_id__in=practitioner_ids).values(
        "practitioner_id",
        "weekday",
        "start_time",
        "end_time",
        "slot_minutes",
        "mode",
        "valid_from",
        "valid_until",
        *_SITE_FIELDS,
    )
    for row in rules:
        _site_rules(row, sites)
        result[row["practitioner_id"]].rules.append(
            engine.Rule(
                site_id=row["site_id"],
                timezone=row["site__timezone"],
                weekday=row["weekday"],
                start_time=row["start_time"],
                end_time=row["end_time"],
                slot_minutes=row["slot_minutes"],
                mode=row["mode"],
                valid_from=row["valid_from"],
                valid_until=row["valid_until"],
            )
        )
    margin = timedelta(days=1)
    exceptions = AvailabilityException.objects.filter(
        practitioner_id__in=practitioner_ids, start__lt=end + margin, end__gt=start - margin
    ).values("practitioner_id", "kind", "start", "end", "slot_minutes", "mode", *_SITE_FIELDS)
    for row in exceptions:
        target = result[row["practitioner_id"]]
        if row["kind"] == ExceptionKind.EXTRA:
            _site_rules(row, sites)
            target.extras.append(
                engine.Extra(
                    row["site_id"], row["start"], row["end"], row["slot_minutes"], row["mode"]
                )
            )
        else:
            target.blocks.append(engine.Block(row["site_id"], row["start"], row["end"]))
    if not with_busy:  # the hours only (is a time inside availability?)
        return result, sites
    appointments = Appointment.objects.filter(
        practitioner_id__in=practitioner_ids,
        status__in=ACTIVE_STATUSES,
        start__lt=end + margin,
        end__gt=start - margin,
    )
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    for pid, a_start, a_end in appointments.values_list("practitioner_id", "start", "end"):
        result[pid].busy.append((a_start, a_end))
    offers = WaitlistOffer.objects.filter(
        practitioner_id__in=practitioner_ids,
        status=OfferStatus.OPEN,
        expires_at__gt=timezone.now(),
        start__lt=end + margin,
        end__gt=start - margin,
    )
    if for_patient_id is not None:
        offers = offers.exclude(entry__patient_id=for_patient_id)
    for pid, o_start, o_end in offers.values_list("practitioner_id", "start", "end"):
        result[pid].busy.append((o_start, o_end))
    return result, sites


def _bookable(slot: Slot, sites: dict[int, SiteRules], now: datetime, staff: bool) -> bool:
    rules = sites[slot.site_id]
    earliest = now if staff else now + rules.min_notice
    return earliest <= slot.start < now + rules.horizon


def free_slots(
    *,
    practitioner_ids: Sequence[int],
    start: datetime,
    end: datetime,
    mode: str | None = None,
    for_patient_id: int | None = None,
    staff: bool = False,
    ignore_appointment_id: int | None = None,
    now: datetime | None = None,
) -> dict[int, list[Slot]]:
    """Free, bookable slots per practitioner starting in [start, end): availability minus
    booked and held times, from the site's minimum notice (staff: from now) to its horizon."""
    now = now or timezone.now()
    loaded, sites = availability_load(
        practitioner_ids,
        start,
        end,
        for_patient_id=for_patient_id,
        ignore_appointment_id=ignore_appointment_id,
    )
    result: dict[int, list[Slot]] = {}
    for pid, av in loaded.items():
        found = engine.free_slots(
            rules=av.rules,
            extras=av.extras,
            blocks=av.blocks,
            busy=av.busy,
            window_start=start,
            window_end=end,
            mode=mode,
        )
        result[pid] = [s for s in found if _bookable(s, sites, now, staff)]
    return result


def next_free_slots(
    practitioner_ids: Sequence[int],
    *,
    mode: str | None = None,
    for_patient_id: int | None = None,
    staff: bool = False,
    after: datetime | None = None,
    horizon_days: int = 400,
) -> dict[int, Slot | None]:
    """The first free slot of each practitioner: searched a week at a time, only for those not
    found yet, so a clinic with free slots this week costs one pass."""
    now = timezone.now()
    start = max(after or now, now)
    pending = list(practitioner_ids)
    found: dict[int, Slot | None] = dict.fromkeys(practitioner_ids)
    week = timedelta(days=7)
    limit = now + timedelta(days=horizon_days)
    # Practitioners without any availability rule or extra session can be skipped at once.
    with_availability = set(
        AvailabilityRule.objects.filter(practitioner_id__in=pending).values_list(
            "practitioner_id", flat=True
        )
    ) | set(
        AvailabilityException.objects.filter(
            practitioner_id__in=pending, kind=ExceptionKind.EXTRA, end__gt=start
        ).values_list("practitioner_id", flat=True)
    )
    pending = [pid for pid in pending if pid in with_availability]
    window = week
    while pending and start < limit:
        slots = free_slots(
            practitioner_ids=pending,
            start=start,
            end=start + window,
            mode=mode,
            for_patient_id=for_patient_id,
            staff=staff,
            now=now,
        )
        for pid, free in slots.items():
            if free:
                found[pid] = free[0]
        pending = [pid for pid in pending if found[pid] is None]
        start += window
        window = min(window * 2, timedelta(days=56))  # widen: later weeks are often sparse
    return found


def site_rules(site_id: int) -> SiteRules:
    """The booking rules of one site (minimum notice, horizon, cancellation cutoff)."""
    from carehub.directory import selectors as directory

    site = directory.site_by_id(site_id=site_id)
    return SiteRules(
        timezone=site.timezone,
        min_notice=timedelta(minutes=site.booking_min_notice_minutes),
        horizon=timedelta(days=site.booking_horizon_days),
        cancellation_cutoff=timedelta(minutes=site.cancellation_cutoff_minutes),
    )


def is_covered(appointment: Appointment) -> bool:
    """Whether an appointment still lies inside its practitioner's availability."""
    loaded, _ = availability_load(
        [appointment.practitioner_id], appointment.start, appointment.end, with_busy=False
    )
    return within_hours(loaded[appointment.practitioner_id], appointment)


def availability_conflicts(
    *, practitioner_id: int, now: datetime | None = None
) -> list[Appointment]:
    """Future active appointments of a practitioner that fall outside their availability (after
    a rule was changed or leave was entered): staff reschedule or reassign them."""
    now = now or timezone.now()
    upcoming = list(
        Appointment.objects.filter(
            practitioner_id=practitioner_id, status=Status.BOOKED, start__gte=now
        ).select_related("site")
    )
    if not upcoming:
        return []
    loaded, _ = availability_load(
        [practitioner_id], upcoming[0].start, max(a.end for a in upcoming), with_busy=False
    )
    av = loaded[practitioner_id]
    return [a for a in upcoming if not within_hours(av, a)]


def within_hours(hours: Availability, appointment: Appointment) -> bool:
    """Whether an appointment (its site, mode and times) lies inside these hours: a weekly rule
    or an extra session of that site and mode, and no leave or blocked time."""
    return engine.covered(
        rules=hours.rules,
        extras=hours.extras,
        blocks=hours.blocks,
        start=appointment.start,
        end=appointment.end,
        site_id=appointment.site_id,
        mode=appointment.mode,
    )


# --- practitioners -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PractitionerOption:
    practitioner: Any  # directory.Practitioner
    next_slot: Slot | None


def practitioner_search(
    *,
    actor,
    specialty: str = "",
    site=None,
    mode: str | None = None,
    language: str = "",
    for_patient_id: int | None = None,
) -> list[PractitionerOption]:
    """Practitioners matching the filters, each with their next free slot; those with a free
    slot first, soonest first."""
    from carehub.directory import selectors as directory

    practitioners = list(
        directory.practitioner_list(actor=actor, specialty=specialty, site=site).filter(
            user__is_active=True
        )
    )
    if language:
        practitioners = [p for p in practitioners if language in (p.languages or [])]
    staff = actor.role != Role.PATIENT
    nexts = next_free_slots(
        [p.pk for p in practitioners], mode=mode, for_patient_id=for_patient_id, staff=staff
    )
    if site is not None:
        # A practitioner of two sites: the next slot at the chosen site.
        for p in practitioners:
            slot = nexts[p.pk]
            if slot is not None and slot.site_id != site.pk:
                nexts[p.pk] = _next_at_site(p.pk, site.pk, mode, for_patient_id, staff)
    options = [PractitionerOption(p, nexts[p.pk]) for p in practitioners]
    far = datetime.max.replace(tzinfo=UTC)
    options.sort(
        key=lambda o: (
            o.next_slot is None,
            o.next_slot.start if o.next_slot else far,
            o.practitioner.user.last_name,
        )
    )
    return options


def _next_at_site(
    pid: int, site_id: int, mode: str | None, for_patient_id: int | None, staff: bool
) -> Slot | None:
    now = timezone.now()
    start = now
    for _ in range(8):
        end = start + timedelta(days=14)
        free = free_slots(
            practitioner_ids=[pid],
            start=start,
            end=end,
            mode=mode,
            for_patient_id=for_patient_id,
            staff=staff,
            now=now,
        )[pid]
        for slot in free:
            if slot.site_id == site_id:
                return slot
        start = end
    return None


# --- appointments -------------------------------------------------------------------------------
def _with_related(qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return qs.select_related("practitioner__user", "site", "patient")


def _log(actor, appointments: Iterable[Appointment], view: str) -> None:
    seen = {a.patient_id: a.patient for a in appointments}
    if seen:
        patients.log_access(
            actor=actor, patients=seen.values(), category=AccessCategory.APPOINTMENTS, view=view
        )


def can_read_reason(actor, appointment: Appointment) -> bool:
    """The reason for the visit is the patient's words about their health: the patient and
    clinicians see it, reception and administrators do not."""
    return actor.role == Role.PATIENT or actor.role in CLINICIAN_ROLES


def appointment_list(
    *,
    actor,
    view: str = "",
    status: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    practitioner_id: int | None = None,
    site_id: int | None = None,
    specialty: str = "",
    limit: int = 500,
) -> list[Appointment]:
    """Appointments `actor` may see, by start time, filtered; logged per patient shown."""
    qs = _with_related(Appointment.objects.restrict(actor, "view"))
    if status:
        qs = qs.filter(status__in=status)
    if start is not None:
        qs = qs.filter(end__gt=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    if practitioner_id is not None:
        qs = qs.filter(practitioner_id=practitioner_id)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    if specialty:
        qs = qs.filter(practitioner__specialties__code=specialty).distinct()
    rows = list(qs.order_by("start")[:limit])
    _log(actor, rows, view)
    return rows


def appointment_get(
    *, actor, public_id: uuid.UUID | str, action: str = "view", view: str = ""
) -> Appointment:
    """One appointment `actor` may `action`, or NotFound (existence is not revealed)."""
    try:
        appointment = _with_related(Appointment.objects.restrict(actor, action)).get(
            public_id=uuid.UUID(str(public_id))
        )
    except (ValueError, Appointment.DoesNotExist) as exc:
        raise NotFound("No such appointment.") from exc
    if view:
        _log(actor, [appointment], view)
    return appointment


def day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day (23 or 25 hours long on change days)."""
    tz = engine.zone(tz_name)
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def practitioner_day(
    *, actor, practitioner_id: int, day: date, tz_name: str, days: int = 1, view: str = ""
) -> list[Appointment]:
    """A practitioner's appointments (all statuses) over `days` local days from `day`."""
    start, _ = day_bounds(day, tz_name)
    _, end = day_bounds(day + timedelta(days=days - 1), tz_name)
    return appointment_list(
        actor=actor, view=view, start=start, end=end, practitioner_id=practitioner_id, limit=1000
    )


# --- waitlist -----------------------------------------------------------------------------------
def waitlist_of_patient(*, actor, patient_id: int) -> list[WaitlistEntry]:
    return list(
        WaitlistEntry.objects.restrict(actor, "view")
        .filter(patient_id=patient_id)
        .select_related("practitioner__user", "specialty", "site")
        .order_by("-created_at")
    )


def open_offers(*, actor, patient_id: int) -> list[WaitlistOffer]:
    return list(
        WaitlistOffer.objects.restrict(actor, "view")
        .filter(
            entry__patient_id=patient_id, status=OfferStatus.OPEN, expires_at__gt=timezone.now()
        )
        .select_related("practitioner__user", "site", "entry")
        .order_by("expires_at")
    )


def offer_get(*, actor, public_id: uuid.UUID | str, action: str = "change") -> WaitlistOffer:
    try:
        return (
            WaitlistOffer.objects.restrict(actor, action)
            .select_related("entry__patient", "practitioner__user", "site")
            .get(public_id=uuid.UUID(str(public_id)))
        )
    except (ValueError, WaitlistOffer.DoesNotExist) as exc:
        raise NotFound("No such offer.") from exc


def waitlist_entry_get(
    *, actor, public_id: uuid.UUID | str, action: str = "change"
) -> WaitlistEntry:
    try:
        return WaitlistEntry.objects.restrict(actor, action).get(
            public_id=uuid.UUID(str(public_id))
        )
    except (ValueError, WaitlistEntry.DoesNotExist) as exc:
        raise NotFound("No such waitlist entry.") from exc


def waitlist_queue(*, actor, limit: int = 200) -> list[WaitlistEntry]:
    """Entries still waiting or holding an offer, first in line first (staff)."""
    return list(
        WaitlistEntry.objects.restrict(actor, "view")
        .filter(status__in=["waiting", "offered"])
        .select_related("practitioner__user", "specialty", "site", "patient")
        .order_by("created_at", "id")[:limit]
    )


# --- availability -------------------------------------------------------------------------------
def rules_of(*, practitioner_id: int) -> list[AvailabilityRule]:
    return list(
        AvailabilityRule.objects.filter(practitioner_id=practitioner_id)
        .select_related("site")
        .order_by("weekday", "start_time")
    )


def exceptions_of(
    *, practitioner_id: int, since: datetime | None = None
) -> list[AvailabilityException]:
    since = since or timezone.now() - timedelta(days=1)
    return list(
        AvailabilityException.objects.filter(practitioner_id=practitioner_id, end__gte=since)
        .select_related("site")
        .order_by("start")
    )


def rule_get(*, actor, public_id, action: str = "change") -> AvailabilityRule:
    try:
        return AvailabilityRule.objects.restrict(actor, action).get(
            public_id=uuid.UUID(str(public_id))
        )
    except (ValueError, AvailabilityRule.DoesNotExist) as exc:
        raise NotFound("No such availability rule.") from exc


def exception_get(*, actor, public_id, action: str = "change") -> AvailabilityException:
    try:
        return AvailabilityException.objects.restrict(actor, action).get(
            public_id=uuid.UUID(str(public_id))
        )
    except (ValueError, AvailabilityException.DoesNotExist) as exc:
        raise NotFound("No such exception.") from exc


# --- calendar feeds -----------------------------------------------------------------------------
def feed_by_token_hash(*, token_hash: str) -> CalendarFeed | None:
    """The live feed with this token hash (the feed URL is its own credential)."""
    return (
        CalendarFeed.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
        .select_related("practitioner__user")
        .first()
    )


def feeds_of(*, actor, practitioner_id: int) -> list[CalendarFeed]:
    return list(
        CalendarFeed.objects.restrict(actor, "view")
        .filter(practitioner_id=practitioner_id)
        .order_by("-created_at")
    )


def feed_appointments(
    *, practitioner_id: int, days_back: int = 30, days_ahead: int = 180
) -> list[Appointment]:
    """What a feed shows: times and status only (no patient names leave the clinic)."""
    now = timezone.now()
    return list(
        Appointment.objects.filter(
            practitioner_id=practitioner_id,
            start__gte=now - timedelta(days=days_back),
            start__lt=now + timedelta(days=days_ahead),
        )
        .exclude(status=Status.CANCELLED)
        .select_related("site")
        .only(
            "public_id",
            "start",
            "end",
            "mode",
            "status",
            "reschedule_count",
            "site__name",
            "updated_at",
        )
        .order_by("start")
    )


# --- staff pages ----------------------------------------------------------------------------------
def local_date(appointment: Appointment) -> date:
    """The calendar date an appointment starts on, in its site's time zone."""
    return appointment.start.astimezone(engine.zone(appointment.site.timezone)).date()


def appointments_on_days(
    *,
    actor,
    first: date,
    days: int = 1,
    view: str = "",
    status: Sequence[str] = (),
    practitioner_id: int | None = None,
    site_id: int | None = None,
    specialty: str = "",
    limit: int = 2000,
) -> list[Appointment]:
    """Appointments `actor` may see that start on the local dates [first, first + days), each
    date read in the appointment's own site zone (sites may be in different zones); by start.
    Logged per patient shown, and only for those shown."""
    # Every zone's local day lies within UTC-12..UTC+14 of the UTC day.
    start = datetime.combine(first, time.min, tzinfo=UTC) - timedelta(hours=14)
    end = datetime.combine(first + timedelta(days=days), time.min, tzinfo=UTC) + timedelta(hours=14)
    qs = _with_related(Appointment.objects.restrict(actor, "view")).filter(
        start__gte=start, start__lt=end
    )
    if status:
        qs = qs.filter(status__in=status)
    if practitioner_id is not None:
        qs = qs.filter(practitioner_id=practitioner_id)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    if specialty:
        # One join row per appointment: a practitioner holds a specialty code at most once.
        qs = qs.filter(practitioner__specialties__code=specialty)
    last = first + timedelta(days=days)
    rows = [a for a in qs.order_by("start", "id")[:limit] if first <= local_date(a) < last]
    _log(actor, rows, view)
    return rows


def appointments_shown(*, actor, appointments: Iterable[Appointment], view: str) -> None:
    """Record that a page showed these appointments (rows a write returned, e.g. reassignment
    results)."""
    _log(actor, list(appointments), view)


def availability_conflicts_shown(
    *, actor, practitioner_id: int, view: str = ""
) -> list[Appointment]:
    """`availability_conflicts` as a page shows them: only rows `actor` may see, with patient and
    site, logged per patient."""
    ids = [a.pk for a in availability_conflicts(practitioner_id=practitioner_id)]
    if not ids:
        return []
    rows = list(
        _with_related(Appointment.objects.restrict(actor, "view"))
        .filter(pk__in=ids)
        .order_by("start")
    )
    _log(actor, rows, view)
    return rows


@dataclass(frozen=True)
class ReassignRow:
    appointment: Appointment
    refusal: str  # why the target cannot take it; "" when it can (or no target was chosen)


@dataclass
class ReassignPreview:
    rows: list[ReassignRow]
    target_refusal: str = ""  # why the target cannot take any (not the same specialty, ...)

    @property
    def movable(self) -> int:
        return 0 if self.target_refusal else sum(1 for r in self.rows if not r.refusal)


def reassign_preview(
    *, actor, practitioner, day: date, target=None, view: str = ""
) -> ReassignPreview:
    """What `services.appointments_reassign` would do: the booked appointments of `practitioner`
    on `day` and, with a `target`, whether each can move to them. Runs the same checks as the
    reassignment (read-only), so the preview and the result agree."""
    from carehub.scheduling import services  # services import this module

    day_rows = services.appointments_of_day(practitioner=practitioner, day=day)
    visible = set(
        Appointment.objects.restrict(actor, "view")
        .filter(pk__in=[a.pk for a in day_rows])
        .values_list("pk", flat=True)
    )
    day_rows = [a for a in day_rows if a.pk in visible]
    target_refusal = ""
    if target is not None:
        if target.pk == practitioner.pk:
            target_refusal = "Choose another practitioner."
        elif not services._shares_specialty(practitioner, target):
            target_refusal = "The practitioners do not share a specialty."
    hours = (
        services.target_hours(target, day_rows)
        if target is not None and not target_refusal
        else None
    )
    rows = [
        ReassignRow(
            a,
            services._target_refuses(target, a, hours)
            if target is not None and not target_refusal
            else "",
        )
        for a in day_rows
    ]
    _log(actor, day_rows, view)
    return ReassignPreview(rows=rows, target_refusal=target_refusal)


def feed_get(*, actor, token_hash: str, action: str = "change") -> CalendarFeed:
    """One feed `actor` may `action`, named by its token hash (feeds have no public id; the hash
    does not reveal the token), or NotFound."""
    feed = (
        CalendarFeed.objects.restrict(actor, action)
        .filter(token_hash=str(token_hash)[:64])
        .select_related("practitioner__user")
        .first()
    )
    if feed is None:
        raise NotFound("No such calendar feed.")
    return feed


# --- patient booking pages ----------------------------------------------------------------------
def bookable_specialties() -> list[Any]:
    """Specialties with at least one active practitioner (step 1 of booking)."""
    from carehub.directory import selectors as directory

    return list(
        directory.specialty_choices().filter(practitioners__user__is_active=True).distinct()
    )


def _local_days_window(first: date, days: int, now: datetime) -> tuple[datetime, datetime]:
    """A UTC window wide enough to hold `days` local dates from `first` in any time zone
    (-12 h to +14 h); slots are then cut to their site's local dates."""
    start = datetime.combine(first, time.min, tzinfo=UTC) - timedelta(hours=14)
    end = datetime.combine(first + timedelta(days=days), time.min, tzinfo=UTC) + timedelta(hours=12)
    return max(start, now), end


def _zone_of(site_id: int, zones: dict[int, str]) -> str:
    if site_id not in zones:
        zones[site_id] = site_rules(site_id).timezone
    return zones[site_id]


def _on_local_days(slot: Slot, zones: dict[int, str], first: date, days: int) -> bool:
    local_day = slot.start.astimezone(engine.zone(_zone_of(slot.site_id, zones))).date()
    return first <= local_day < first + timedelta(days=days)


@dataclass(frozen=True)
class PractitionerSlots:
    practitioner: Any  # directory.Practitioner
    slots: list[Slot]  # the first free slots on the chosen dates
    next_slot: Slot | None  # the first free slot from now on, whatever the date


@dataclass(frozen=True)
class BookingFilters:
    sites: list[Any]  # sites where practitioners of the specialty work
    languages: list[str]  # languages they speak (ISO 639-1)


def booking_filters(*, actor, specialty: str) -> BookingFilters:
    """What step 2 of booking can filter a specialty's practitioners by."""
    from carehub.directory import selectors as directory

    everyone = list(
        directory.practitioner_list(actor=actor, specialty=specialty).filter(user__is_active=True)
    )
    sites = {s.pk: s for p in everyone for s in p.sites.all()}
    return BookingFilters(
        sites=sorted(sites.values(), key=str),
        languages=sorted({code for p in everyone for code in (p.languages or [])}),
    )


@dataclass(frozen=True)
class BookingSearch:
    options: list[PractitionerSlots]
    zones: dict[int, str]  # the time zone of each site a slot is at


def booking_search(
    *,
    actor,
    specialty: str,
    site=None,
    mode: str | None = None,
    language: str = "",
    day: date | None = None,
    days: int = 14,
    per_practitioner: int = 6,
    for_patient_id: int | None = None,
) -> BookingSearch:
    """Step 2 of booking: practitioners of a specialty (filtered by site, mode and language),
    each with their first `per_practitioner` free slots over `days` site-local dates from `day`
    (default today) and their next free slot overall. Those with a free slot on the chosen
    dates come first, soonest first; then those free later; then those with nothing free."""
    found = practitioner_search(
        actor=actor,
        specialty=specialty,
        site=site,
        mode=mode,
        language=language,
        for_patient_id=for_patient_id,
    )
    zones = {s.pk: s.timezone for o in found for s in o.practitioner.sites.all()}
    now = timezone.now()
    if day is None:
        start, end = now, now + timedelta(days=days)
    else:
        start, end = _local_days_window(day, days, now)
    ids = [o.practitioner.pk for o in found if o.next_slot is not None]
    free = (
        free_slots(
            practitioner_ids=ids,
            start=start,
            end=end,
            mode=mode,
            for_patient_id=for_patient_id,
            staff=actor.role != Role.PATIENT,
            now=now,
        )
        if ids
        else {}
    )
    options = []
    for o in found:
        chosen = [
            s
            for s in free.get(o.practitioner.pk, [])
            if (site is None or s.site_id == site.pk)
            and (day is None or _on_local_days(s, zones, day, days))
        ][:per_practitioner]
        for slot in [*chosen, *([o.next_slot] if o.next_slot else [])]:
            _zone_of(slot.site_id, zones)
        options.append(PractitionerSlots(o.practitioner, chosen, o.next_slot))
    far = datetime.max.replace(tzinfo=UTC)
    options.sort(
        key=lambda o: (
            not o.slots,
            o.next_slot is None,
            o.slots[0].start if o.slots else (o.next_slot.start if o.next_slot else far),
            o.practitioner.user.last_name,
        )
    )
    return BookingSearch(options=options, zones=zones)


def practitioner_free_days(
    *,
    actor,
    practitioner,
    day: date,
    days: int = 14,
    mode: str | None = None,
    for_patient_id: int | None = None,
    ignore_appointment_id: int | None = None,
) -> list[Slot]:
    """Free slots of one practitioner on `days` site-local dates from `day` (rescheduling)."""
    now = timezone.now()
    start, end = _local_days_window(day, days, now)
    zones = {s.pk: s.timezone for s in practitioner.sites.all()}
    found = free_slots(
        practitioner_ids=[practitioner.pk],
        start=start,
        end=end,
        mode=mode,
        for_patient_id=for_patient_id,
        staff=actor.role != Role.PATIENT,
        ignore_appointment_id=ignore_appointment_id,
        now=now,
    )[practitioner.pk]
    return [s for s in found if _on_local_days(s, zones, day, days)]


def slot_free(
    *,
    actor,
    practitioner,
    start: datetime,
    mode: str | None = None,
    for_patient_id: int | None = None,
) -> Slot | None:
    """The free slot of `practitioner` starting exactly at `start`, or None (it was taken, is
    outside availability or the booking window). A read: the booking itself re-checks."""
    found = free_slots(
        practitioner_ids=[practitioner.pk],
        start=start,
        end=start + timedelta(minutes=1),
        mode=mode,
        for_patient_id=for_patient_id,
        staff=actor.role != Role.PATIENT,
    )[practitioner.pk]
    return found[0] if found and found[0].start == start else None


def slots_after(
    *,
    practitioner_id: int,
    around: datetime,
    mode: str | None = None,
    for_patient_id: int | None = None,
    staff: bool = False,
    ignore_appointment_id: int | None = None,
    count: int = 5,
) -> list[Slot]:
    """The next `count` free slots of a practitioner from a little before `around` (or now)
    on, looking 1, then 4, then 13 weeks ahead: what to offer instead of a time that is gone."""
    start = max(around - timedelta(hours=2), timezone.now())
    found: list[Slot] = []
    for weeks in (1, 4, 13):
        found = free_slots(
            practitioner_ids=[practitioner_id],
            start=start,
            end=start + timedelta(weeks=weeks),
            mode=mode,
            for_patient_id=for_patient_id,
            staff=staff,
            ignore_appointment_id=ignore_appointment_id,
        )[practitioner_id]
        if len(found) >= count:
            break
    return found[:count]


def free_slots_near(
    *,
    actor,
    practitioner,
    around: datetime,
    mode: str | None = None,
    for_patient_id: int | None = None,
    count: int = 5,
) -> list[Slot]:
    """`slots_after` for a page: staff see what the minimum notice hides from patients."""
    return slots_after(
        practitioner_id=practitioner.pk,
        around=around,
        mode=mode,
        for_patient_id=for_patient_id,
        staff=actor.role != Role.PATIENT,
        count=count,
    )


@dataclass(frozen=True)
class WaitlistOverview:
    entries: list[WaitlistEntry]
    offers: list[WaitlistOffer]


def waitlist_overview(*, actor, patient, view: str = "") -> WaitlistOverview:
    """A patient's waitlist requests and open offers; logged (category "appointments") when
    there is something to show."""
    entries = waitlist_of_patient(actor=actor, patient_id=patient.pk)
    offers = open_offers(actor=actor, patient_id=patient.pk)
    if entries or offers:
        patients.log_access(
            actor=actor, patients=[patient], category=AccessCategory.APPOINTMENTS, view=view
        )
    return WaitlistOverview(entries=entries, offers=offers)

"""Property-based tests (hypothesis): whatever availability and whatever sequence of bookings,
reschedules and cancellations, there are never two overlapping active appointments, and a slot
that is offered is never booked.

Time zones with daylight-saving changes (including Lord Howe's 30-minute one) and windows over
the 2027 changes are part of the generated data."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.exceptions import ServiceError
from carehub.directory.tests.factories import make_practitioner
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import selectors, services
from carehub.scheduling import slots as engine
from carehub.scheduling.choices import ACTIVE_STATUSES, ExceptionKind, Mode, RuleMode, Status
from carehub.scheduling.models import Appointment, AvailabilityException, AvailabilityRule
from carehub.scheduling.tests.factories import make_site

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute change, first Sunday of April and of October
    "Asia/Kolkata",  # +05:30, no change
    "America/St_Johns",  # -03:30 / -02:30
]
SLOT_LENGTHS = [5, 10, 15, 20, 25, 30, 40, 45, 50, 60, 90, 120]
# Windows start in one of two seasons of 2027 that hold every change of these zones, or just
# before one of the change days (all Sundays), where the rules below are drawn at night.
SEASONS = [datetime(2027, 3, 5, tzinfo=UTC), datetime(2027, 9, 28, tzinfo=UTC)]
CHANGE_DAYS = [
    date(2027, 3, 14),  # New York, St John's
    date(2027, 3, 28),  # London
    date(2027, 4, 4),  # Lord Howe
    date(2027, 10, 3),  # Lord Howe
    date(2027, 10, 31),  # London
    date(2027, 11, 7),  # New York, St John's
]
SUNDAY = 6


def minutes_to_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def rule_hours(draw) -> tuple[time, time, int]:
    """Start, end and slot length of a rule; often at night, where the changes happen."""
    start = draw(st.one_of(st.integers(0, 5 * 12), st.integers(0, 22 * 12))) * 5
    span = draw(st.integers(1, 60)) * 5
    end = min(start + span, 23 * 60 + 55)
    if end <= start:
        end = start + 5
    return minutes_to_time(start), minutes_to_time(end), draw(st.sampled_from(SLOT_LENGTHS))


@st.composite
def engine_inputs(draw):
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=2))
    sites = dict(enumerate(zones, start=1))
    if draw(st.booleans()):
        window_start = draw(st.sampled_from(SEASONS)) + timedelta(
            minutes=15 * draw(st.integers(0, 4 * 24 * 45))
        )
    else:
        day = draw(st.sampled_from(CHANGE_DAYS))
        window_start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(
            hours=draw(st.integers(15, 48))
        )
    window_end = window_start + timedelta(hours=draw(st.integers(1, 24 * 10)))
    rules = []
    for _ in range(draw(st.integers(1, 5))):
        site_id = draw(st.sampled_from(list(sites)))
        start, end, slot_minutes = draw(rule_hours())
        rules.append(
            engine.Rule(
                site_id=site_id,
                timezone=sites[site_id],
                weekday=draw(st.one_of(st.just(SUNDAY), st.integers(0, 6))),
                start_time=start,
                end_time=end,
                slot_minutes=slot_minutes,
                mode=draw(st.sampled_from(RuleMode.values)),
            )
        )

    def moment():
        return window_start + timedelta(minutes=5 * draw(st.integers(-24 * 12, 11 * 24 * 12)))

    extras = []
    for _ in range(draw(st.integers(0, 2))):
        start = moment()
        extras.append(
            engine.Extra(
                site_id=draw(st.sampled_from(list(sites))),
                start=start,
                end=start + timedelta(minutes=5 * draw(st.integers(1, 72))),
                slot_minutes=draw(st.sampled_from(SLOT_LENGTHS)),
                mode=draw(st.sampled_from(RuleMode.values)),
            )
        )
    blocks = []
    for _ in range(draw(st.integers(0, 3))):
        start = moment()
        blocks.append(
            engine.Block(
                site_id=draw(st.sampled_from([None, *sites])),
                start=start,
                end=start + timedelta(minutes=5 * draw(st.integers(1, 24 * 12))),
            )
        )
    busy = []
    for _ in range(draw(st.integers(0, 8))):
        start = moment()
        busy.append((start, start + timedelta(minutes=5 * draw(st.integers(1, 24)))))
    mode = draw(st.sampled_from([None, *Mode.values]))
    return {
        "rules": rules,
        "extras": extras,
        "blocks": blocks,
        "busy": busy,
        "window_start": window_start,
        "window_end": window_end,
        "mode": mode,
    }


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


@settings(max_examples=400, deadline=None, database=None)
@given(engine_inputs())
def test_engine_offers_disjoint_free_slots_inside_availability(data):
    slots = engine.free_slots(**data)
    for slot in slots:
        assert data["window_start"] <= slot.start < data["window_end"]
        assert not any(overlaps(slot.start, slot.end, s, e) for s, e in data["busy"]), "booked"
        assert not any(
            overlaps(slot.start, slot.end, b.start, b.end)
            for b in data["blocks"]
            if b.site_id in (None, slot.site_id)
        ), "blocked"
        if data["mode"] is not None:
            assert slot.modes == (data["mode"],)
        # The whole slot lies inside a rule or extra session of its site and mode, and its
        # length is that rule's or session's slot length, in real time.
        assert any(
            engine.covered(
                rules=data["rules"],
                extras=data["extras"],
                blocks=data["blocks"],
                start=slot.start,
                end=slot.end,
                site_id=slot.site_id,
                mode=mode,
            )
            for mode in slot.modes
        ), f"{slot} is outside availability"
        lengths = {r.slot_minutes for r in data["rules"] if r.site_id == slot.site_id} | {
            x.slot_minutes for x in data["extras"] if x.site_id == slot.site_id
        }
        assert (slot.end - slot.start) in {timedelta(minutes=m) for m in lengths}
    for earlier, later in itertools.pairwise(slots):
        assert earlier.end <= later.start, "offered slots overlap"


@settings(max_examples=200, deadline=None, database=None)
@given(engine_inputs())
def test_rule_slots_sit_on_their_wall_clock_grid(data):
    """Each slot of a rule starts at rule start + k x length on the local wall clock, at the
    first occurrence of that wall time: no slot is moved out of a spring gap or doubled in an
    autumn overlap."""
    for rule in data["rules"]:
        tz = ZoneInfo(rule.timezone)
        first = data["window_start"].astimezone(tz).date()
        last = data["window_end"].astimezone(tz).date()
        seen = set()
        for slot in engine.rule_slots(rule, first, last):
            local = slot.start.astimezone(tz)
            offset = local.replace(tzinfo=None) - datetime.combine(local.date(), rule.start_time)
            assert offset.total_seconds() % (rule.slot_minutes * 60) == 0
            assert local.fold == 0
            assert local.weekday() == rule.weekday
            assert slot.start not in seen
            seen.add(slot.start)


def reference_rule_slots(rule: engine.Rule, first: date, last: date) -> list[datetime]:
    """The obvious way, one time-zone conversion per slot: what rule_slots must give."""
    tz = ZoneInfo(rule.timezone)
    length = timedelta(minutes=rule.slot_minutes)
    starts = []
    day = first
    while day <= last:
        if day.weekday() == rule.weekday:
            wall = datetime.combine(day, rule.start_time)
            wall_end = datetime.combine(day, rule.end_time)
            real_end = wall_end.replace(tzinfo=tz).astimezone(UTC)
            while wall + length <= wall_end:
                if engine.local_wall_time_exists(wall, tz):
                    start = wall.replace(tzinfo=tz).astimezone(UTC)
                    if start + length <= real_end:
                        starts.append(start)
                wall += length
        day += timedelta(days=1)
    return starts


@settings(max_examples=300, deadline=None, database=None)
@given(engine_inputs())
def test_rule_slots_match_one_conversion_per_slot(data):
    """rule_slots converts once per day when the offset does not change during the rule's
    hours; it must give exactly what converting every slot gives."""
    for rule in data["rules"]:
        first = data["window_start"].date() - timedelta(days=1)
        last = data["window_end"].date() + timedelta(days=1)
        assert [s.start for s in engine.rule_slots(rule, first, last)] == reference_rule_slots(
            rule, first, last
        )


# --- through the services and the database --------------------------------------------------------
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)  # the spring changes of every zone are ahead
WINDOW = (NOW, NOW + timedelta(days=30))


@st.composite
def availability(draw):
    rules = []
    for _ in range(draw(st.integers(1, 4))):
        start, end, slot_minutes = draw(rule_hours())
        rules.append(
            {
                "weekday": draw(st.one_of(st.just(SUNDAY), st.integers(0, 6))),
                "start_time": start,
                "end_time": end,
                "slot_minutes": slot_minutes,
                "mode": draw(st.sampled_from(RuleMode.values)),
                "valid_from": draw(st.one_of(st.none(), st.just(date(2027, 3, 20)))),
            }
        )
    leave = draw(st.one_of(st.none(), st.integers(0, 29 * 24)))
    return {"zone": draw(st.sampled_from(ZONES)), "rules": rules, "leave_hour": leave}


slot_pick = st.tuples(st.just("slot"), st.integers(0, 10_000))
time_pick = st.tuples(st.just("time"), st.integers(0, 30 * 24 * 12))  # any 5-minute step
operation = st.one_of(
    st.tuples(
        st.just("book"),
        st.integers(0, 2),  # which patient
        st.one_of(slot_pick, slot_pick, time_pick),
        st.sampled_from(Mode.values),
        st.booleans(),  # booked by reception
    ),
    st.tuples(st.just("cancel"), st.integers(0, 100)),
    st.tuples(st.just("reschedule"), st.integers(0, 100), st.one_of(slot_pick, time_pick)),
)


def active() -> list[Appointment]:
    return list(Appointment.objects.filter(status__in=ACTIVE_STATUSES).order_by("start"))


def check_invariants(doctor) -> None:
    rows = active()
    for key in ("practitioner_id", "patient_id"):
        by: dict[int, list[Appointment]] = {}
        for a in rows:
            by.setdefault(getattr(a, key), []).append(a)
        for group in by.values():
            for earlier, later in itertools.pairwise(group):
                assert earlier.end <= later.start, f"two active appointments overlap ({key})"
    for staff in (True, False):
        offered = selectors.free_slots(
            practitioner_ids=[doctor.pk], start=WINDOW[0], end=WINDOW[1], staff=staff
        )[doctor.pk]
        for slot in offered:
            assert not any(overlaps(slot.start, slot.end, a.start, a.end) for a in rows), (
                "an offered slot is booked"
            )
        for before, after in itertools.pairwise(offered):
            assert before.end <= after.start
    # Nothing was booked outside availability (availability does not change here).
    assert selectors.availability_conflicts(practitioner_id=doctor.pk) == []


def pick_time(pick, doctor, *, staff: bool, ignore: int | None = None):
    kind, n = pick
    if kind == "time":
        return WINDOW[0] + timedelta(minutes=5 * n), None
    free = selectors.free_slots(
        practitioner_ids=[doctor.pk],
        start=WINDOW[0],
        end=WINDOW[1],
        staff=staff,
        ignore_appointment_id=ignore,
    )[doctor.pk]
    if not free:
        return None, None
    slot = free[n % len(free)]
    return slot.start, slot


@pytest.fixture
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(availability(), st.lists(operation, min_size=1, max_size=10))
def test_bookings_never_overlap_and_offered_slots_are_free(frozen_now, avail, operations):
    with transaction.atomic():  # each example starts from an empty schedule
        site = make_site(avail["zone"])
        doctor = make_practitioner(site=site)
        for spec in avail["rules"]:
            AvailabilityRule.objects.create(practitioner=doctor, site=site, **spec)
        if avail["leave_hour"] is not None:
            start = WINDOW[0] + timedelta(hours=avail["leave_hour"])
            AvailabilityException.objects.create(
                practitioner=doctor,
                kind=ExceptionKind.LEAVE,
                start=start,
                end=start + timedelta(hours=30),
            )
        patients = [make_patient_user() for _ in range(3)]
        reception = make_user(Role.RECEPTIONIST)
        for op in operations:
            try:
                if op[0] == "book":
                    _, who, pick, mode, by_reception = op
                    start, slot = pick_time(pick, doctor, staff=by_reception)
                    if start is None:
                        continue
                    if slot is not None and mode not in slot.modes:
                        mode = slot.modes[0]
                    services.appointment_book(
                        actor=reception if by_reception else patients[who].user,
                        practitioner=doctor,
                        start=start,
                        mode=mode,
                        patient_public_id=patients[who].public_id if by_reception else None,
                    )
                else:
                    booked = list(
                        Appointment.objects.filter(status=Status.BOOKED)
                        .select_related("practitioner", "patient")
                        .order_by("start")
                    )
                    if not booked:
                        continue
                    appointment = booked[op[1] % len(booked)]
                    if op[0] == "cancel":
                        services.appointment_cancel(
                            actor=reception, appointment=appointment, reason="Test"
                        )
                    else:
                        start, slot = pick_time(op[2], doctor, staff=True, ignore=appointment.pk)
                        if start is None:
                            continue
                        services.appointment_reschedule(
                            actor=reception,
                            appointment=appointment,
                            start=start,
                            mode=slot.modes[0] if slot else None,
                        )
            except ServiceError as exc:
                # Refusals are answers (409/400), never a crash; and a refused write left nothing.
                assert exc.status in (400, 409), exc
            check_invariants(doctor)
        transaction.set_rollback(True)

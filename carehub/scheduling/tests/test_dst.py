"""Daylight-saving changes in two time zones, spring and autumn.

Rules are wall-clock times of the site. On a change day a rule at 01:00-03:30 must give slots
that never overlap, none at a wall time that does not exist, each exactly its length in real
time and inside the rule's real hours; the API must show each time with the UTC offset in force
at that moment, before and after the change.

  Europe/London     spring 2027-03-28 01:00 GMT -> 02:00 BST
                    autumn 2027-10-31 02:00 BST -> 01:00 GMT
  America/New_York  spring 2027-03-14 02:00 EST -> 03:00 EDT
                    autumn 2027-11-07 02:00 EDT -> 01:00 EST
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from carehub.core.testing.contracts import client_for
from carehub.directory.tests.factories import make_practitioner
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import selectors, services
from carehub.scheduling import slots as engine
from carehub.scheduling.choices import RuleMode
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import make_rule, make_site

SUNDAY = 6
RULE_START, RULE_END = time(1, 0), time(3, 30)

# zone, change day, the local starts of the 30-minute slots of a 01:00-03:30 rule that day
CHANGES = {
    "london-spring": (
        "Europe/London",
        date(2027, 3, 28),
        ["02:00:00+01:00", "02:30:00+01:00", "03:00:00+01:00"],  # 01:00-01:59 do not exist
    ),
    "london-autumn": (
        "Europe/London",
        date(2027, 10, 31),
        # 01:00-01:59 happen twice: slots at the first occurrence only
        ["01:00:00+01:00", "01:30:00+01:00", "02:00:00+00:00", "02:30:00+00:00", "03:00:00+00:00"],
    ),
    "new-york-spring": (
        "America/New_York",
        date(2027, 3, 14),
        ["01:00:00-05:00", "01:30:00-05:00", "03:00:00-04:00"],  # 02:00-02:59 do not exist
    ),
    "new-york-autumn": (
        "America/New_York",
        date(2027, 11, 7),
        ["01:00:00-04:00", "01:30:00-04:00", "02:00:00-05:00", "02:30:00-05:00", "03:00:00-05:00"],
    ),
}
OFFSETS = {  # UTC offset a week before and a week after each change
    "london-spring": ("+00:00", "+01:00"),
    "london-autumn": ("+01:00", "+00:00"),
    "new-york-spring": ("-05:00", "-04:00"),
    "new-york-autumn": ("-04:00", "-05:00"),
}
CASES = pytest.mark.parametrize("case", list(CHANGES))


def sunday_rule(tz: str, slot_minutes: int = 30, start=RULE_START, end=RULE_END) -> engine.Rule:
    return engine.Rule(
        site_id=1,
        timezone=tz,
        weekday=SUNDAY,
        start_time=start,
        end_time=end,
        slot_minutes=slot_minutes,
        mode=RuleMode.BOTH,
    )


def day_slots(rule: engine.Rule, day: date) -> list[engine.Slot]:
    start, end = selectors.day_bounds(day, rule.timezone)
    return engine.free_slots(rules=[rule], window_start=start, window_end=end)


# --- the engine -----------------------------------------------------------------------------------
@CASES
def test_rule_on_change_day_gives_the_expected_slots(case):
    tz_name, day, expected = CHANGES[case]
    slots = day_slots(sunday_rule(tz_name), day)
    tz = ZoneInfo(tz_name)
    assert [s.start.astimezone(tz).isoformat()[11:] for s in slots] == expected
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


@CASES
@pytest.mark.parametrize("minutes", [5, 20, 25, 30, 45, 50, 60, 90, 120, 150])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (RULE_START, RULE_END),
        (time(0, 0), time(4, 0)),
        (time(0, 30), time(2, 30)),  # ends inside New York's gap
        (time(1, 30), time(3, 0)),  # starts inside London's gap
        (time(2, 30), time(4, 0)),  # starts inside New York's gap
        (time(1, 55), time(2, 5)),
    ],
)
def test_change_day_slots_keep_every_invariant(case, minutes, start, end):
    tz_name, day, _ = CHANGES[case]
    tz = ZoneInfo(tz_name)
    rule = sunday_rule(tz_name, minutes, start, end)
    slots = day_slots(rule, day)
    rule_end = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=minutes), "exact length"
        local = slot.start.astimezone(tz)
        assert local.replace(tzinfo=None) >= datetime.combine(day, start), "after the rule starts"
        assert slot.end <= rule_end, (
            f"{slot.start.astimezone(tz)}-{slot.end.astimezone(tz)} ends after the rule's hours"
        )
        minutes_in = (local.replace(tzinfo=None) - datetime.combine(day, start)).total_seconds()
        # A wall time in a spring gap would land an hour later, off the rule's grid (or on it
        # twice); a repeated wall time gives its first occurrence only.
        assert minutes_in % (minutes * 60) == 0, "on the rule's wall-clock grid"
        assert local.fold == 0, "first occurrence of a repeated wall time"
        assert engine.covered(
            rules=[rule],
            extras=[],
            blocks=[],
            start=slot.start,
            end=slot.end,
            site_id=1,
            mode="video",
        )
    for earlier, later in itertools.pairwise(slots):
        assert earlier.end <= later.start, "slots never overlap"


@pytest.mark.parametrize(
    ("case", "start", "end", "expected"),
    [
        # ends inside the gap: no slot from the wall times after the jump
        ("london-spring", time(0), time(1, 30), ["00:00:00+00:00", "00:30:00+00:00"]),
        (
            "new-york-spring",
            time(0, 30),
            time(2, 30),
            ["00:30:00-05:00", "01:00:00-05:00", "01:30:00-05:00"],
        ),
        # starts inside the gap: the first slot is the first wall time that exists
        ("london-spring", time(1, 30), time(3), ["02:00:00+01:00", "02:30:00+01:00"]),
        ("new-york-spring", time(2, 30), time(4), ["03:00:00-04:00", "03:30:00-04:00"]),
        # ends inside the repeated hour: its first occurrence
        ("london-autumn", time(0, 30), time(1, 30), ["00:30:00+01:00", "01:00:00+01:00"]),
        ("new-york-autumn", time(1, 30), time(2, 30), ["01:30:00-04:00", "02:00:00-05:00"]),
    ],
)
def test_rules_starting_or_ending_inside_a_change(case, start, end, expected):
    tz_name, day, _ = CHANGES[case]
    slots = day_slots(sunday_rule(tz_name, 30, start, end), day)
    assert [s.start.astimezone(ZoneInfo(tz_name)).isoformat()[11:] for s in slots] == expected


@CASES
def test_rule_keeps_its_wall_time_on_both_sides_of_the_change(case):
    tz_name, day, _ = CHANGES[case]
    rule = sunday_rule(tz_name, start=time(9), end=time(9, 30))
    tz = ZoneInfo(tz_name)
    before = day_slots(rule, day - timedelta(days=7))
    after = day_slots(rule, day + timedelta(days=7))
    assert [s.start.astimezone(tz).time() for s in before + after] == [time(9), time(9)]
    first_offset, second_offset = OFFSETS[case]
    assert before[0].start.astimezone(tz).isoformat().endswith(first_offset)
    assert after[0].start.astimezone(tz).isoformat().endswith(second_offset)


@pytest.mark.parametrize(
    ("tz_name", "day", "hours"),
    [
        ("Europe/London", date(2027, 3, 28), 23),
        ("Europe/London", date(2027, 10, 31), 25),
        ("America/New_York", date(2027, 3, 14), 23),
        ("America/New_York", date(2027, 11, 7), 25),
        ("America/New_York", date(2027, 11, 8), 24),
    ],
)
def test_day_bounds_are_23_or_25_hours_on_change_days(tz_name, day, hours):
    start, end = selectors.day_bounds(day, tz_name)
    assert end - start == timedelta(hours=hours)
    assert start.astimezone(ZoneInfo(tz_name)).time() == time(0)


# --- through the database and the API -------------------------------------------------------------
@pytest.fixture
def change(request, time_machine):
    """A doctor at a site in the zone with a Sunday 01:00-03:30 rule, ten days before the change
    (so the change day is within the booking horizon)."""
    tz_name, day, expected = CHANGES[request.param]
    time_machine.move_to(datetime.combine(day - timedelta(days=10), time(12), tzinfo=UTC))
    site = make_site(tz_name)
    doctor = make_practitioner(site=site)
    make_rule(doctor, site=site, weekdays=[SUNDAY], start=RULE_START, end=RULE_END)
    return {
        "case": request.param,
        "tz": ZoneInfo(tz_name),
        "day": day,
        "expected": expected,
        "site": site,
        "doctor": doctor,
    }


DB_CASES = pytest.mark.parametrize("change", list(CHANGES), indirect=True)


def slots_url(doctor) -> str:
    return reverse("api-practitioner-slots", kwargs={"public_id": doctor.public_id})


@pytest.mark.django_db
@DB_CASES
def test_api_slots_have_the_right_offset_on_both_sides_of_the_change(change):
    day = change["day"]
    patient = make_patient_user()
    response = client_for(patient.user, api=True).get(
        slots_url(change["doctor"]),
        {"from": day - timedelta(days=7), "to": day + timedelta(days=7), "mode": "video"},
    )
    assert response.status_code == 200, response.content
    rows = response.json()
    by_day: dict[str, list[dict]] = {}
    for row in rows:
        by_day.setdefault(row["start"][:10], []).append(row)
    before, after = OFFSETS[change["case"]]
    assert [r["start"][11:] for r in by_day[(day - timedelta(days=7)).isoformat()]] == [
        f"{hh}{before}" for hh in ("01:00:00", "01:30:00", "02:00:00", "02:30:00", "03:00:00")
    ]
    assert [r["start"][11:] for r in by_day[day.isoformat()]] == change["expected"]
    assert [r["start"][11:] for r in by_day[(day + timedelta(days=7)).isoformat()]] == [
        f"{hh}{after}" for hh in ("01:00:00", "01:30:00", "02:00:00", "02:30:00", "03:00:00")
    ]
    starts = [datetime.fromisoformat(r["start"]) for r in rows]
    ends = [datetime.fromisoformat(r["end"]) for r in rows]
    for start, end in zip(starts, ends, strict=True):
        assert end - start == timedelta(minutes=30)  # real time, offsets included
        # the end carries the offset in force at the end, which is the zone's rule
        assert end.utcoffset() == end.astimezone(change["tz"]).utcoffset()
        assert start.utcoffset() == start.astimezone(change["tz"]).utcoffset()
    assert all(a < b for a, b in itertools.pairwise(starts))


@pytest.mark.django_db
@DB_CASES
def test_every_change_day_slot_can_be_booked_and_stays_covered(change):
    """Book each slot of the change day through the API: 201 with the same local time back, no
    appointment reported as outside availability, and the day then has no free slot."""
    day, doctor = change["day"], change["doctor"]
    url = reverse("api-appointments")
    for local in change["expected"]:
        patient = make_patient_user()
        start = f"{day.isoformat()}T{local}"
        response = client_for(patient.user, api=True).post(
            url,
            {"practitioner": str(doctor.public_id), "start": start, "mode": "in_person"},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["start"] == start
        assert datetime.fromisoformat(body["end"]) - datetime.fromisoformat(start) == timedelta(
            minutes=30
        )
    assert Appointment.objects.count() == len(change["expected"])
    assert selectors.availability_conflicts(practitioner_id=doctor.pk) == []
    start, end = selectors.day_bounds(day, change["site"].timezone)
    assert selectors.free_slots(practitioner_ids=[doctor.pk], start=start, end=end)[doctor.pk] == []


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["london-autumn", "new-york-autumn"], indirect=True)
def test_second_occurrence_of_a_repeated_hour_is_not_a_slot(change):
    """01:30 happens twice on an autumn change day; only the first one is a slot. Asking for the
    second gives 409 with alternatives written in local time with their offsets."""
    day, doctor, tz = change["day"], change["doctor"], change["tz"]
    second = datetime.combine(day, time(1, 30), tzinfo=tz).replace(fold=1)
    patient = make_patient_user()
    response = client_for(patient.user, api=True).post(
        reverse("api-appointments"),
        {"practitioner": str(doctor.public_id), "start": second.isoformat(), "mode": "video"},
        format="json",
    )
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "outside_availability"
    alternatives = [datetime.fromisoformat(a["start"]) for a in body["alternatives"]]
    assert alternatives and all(a.utcoffset() is not None for a in alternatives)
    first = datetime.combine(day, time(1, 30), tzinfo=tz)  # fold=0: the first occurrence
    assert first.astimezone(UTC) in [a.astimezone(UTC) for a in alternatives]


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["london-spring", "new-york-spring"], indirect=True)
def test_booking_a_wall_time_that_does_not_exist_is_refused(change):
    """02:45 does not exist on a spring change day in New York (01:45 in London); a client that
    writes it with the winter offset names an instant that is not a slot start (03:45 EDT,
    02:45 BST)."""
    day, doctor = change["day"], change["doctor"]
    naive_hour = 2 if change["case"].startswith("new-york") else 1
    winter = "-05:00" if change["case"].startswith("new-york") else "+00:00"
    patient = make_patient_user()
    with pytest.raises(services.SlotUnavailable) as caught:
        services.appointment_book(
            actor=patient.user,
            practitioner=doctor,
            start=datetime.fromisoformat(f"{day}T{naive_hour:02d}:45:00{winter}"),
            mode="video",
        )
    assert caught.value.extra["code"] == "outside_availability"


@pytest.mark.django_db
@DB_CASES
def test_messages_show_the_local_time_of_the_slot(change):
    slot = day_slots(sunday_rule(change["site"].timezone), change["day"])[-1]
    text = services.when(slot.start, change["site"].timezone)
    assert text.endswith("03:00")

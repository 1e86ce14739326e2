"""The pure slot engine (carehub.scheduling.slots): no database, plain values in and out."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from carehub.scheduling import slots as engine
from carehub.scheduling.choices import Mode, RuleMode

LONDON = "Europe/London"
MONDAY = date(2027, 1, 4)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rule(**kwargs: Any) -> engine.Rule:
    values: dict[str, Any] = {
        "site_id": 1,
        "timezone": LONDON,
        "weekday": 0,
        "start_time": time(9, 0),
        "end_time": time(12, 0),
        "slot_minutes": 30,
        "mode": RuleMode.BOTH,
    }
    values.update(kwargs)
    return engine.Rule(**values)


def free(rules, *, start=None, end=None, **kwargs) -> list[engine.Slot]:
    return engine.free_slots(
        rules=rules,
        window_start=start or utc(2027, 1, 1),
        window_end=end or utc(2027, 2, 1),
        **kwargs,
    )


def starts(slots) -> list[str]:
    return [s.start.strftime("%m-%d %H:%M") for s in slots]


# --- rules ----------------------------------------------------------------------------------------
def test_weekly_rule_gives_slots_every_week_on_its_weekday():
    slots = list(engine.rule_slots(rule(), MONDAY, MONDAY + timedelta(days=13)))
    assert len(slots) == 12  # 2 Mondays x 6 half hours
    assert {s.start.astimezone(ZoneInfo(LONDON)).weekday() for s in slots} == {0}
    assert slots[0].start == utc(2027, 1, 4, 9, 0)  # GMT in January
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


def test_last_slot_must_fit_before_the_rule_ends():
    slots = list(engine.rule_slots(rule(end_time=time(10, 50)), MONDAY, MONDAY))
    assert starts(slots) == ["01-04 09:00", "01-04 09:30", "01-04 10:00"]  # 10:30 would end 11:00


def test_rule_validity_dates_are_inclusive():
    r = rule(valid_from=MONDAY + timedelta(days=7), valid_until=MONDAY + timedelta(days=14))
    slots = list(engine.rule_slots(r, MONDAY, MONDAY + timedelta(days=28)))
    assert {s.start.date() for s in slots} == {date(2027, 1, 11), date(2027, 1, 18)}


def test_rule_is_wall_clock_time_in_its_zone():
    """09:00 in London is 08:00 UTC in summer and 09:00 UTC in winter; in New York 14:00 UTC."""
    summer = list(engine.rule_slots(rule(), date(2027, 7, 5), date(2027, 7, 5)))
    assert summer[0].start == utc(2027, 7, 5, 8, 0)
    ny = list(
        engine.rule_slots(rule(timezone="America/New_York"), date(2027, 1, 4), date(2027, 1, 4))
    )
    assert ny[0].start == utc(2027, 1, 4, 14, 0)


def test_modes_of_a_rule():
    [slot, *_] = free([rule(mode=RuleMode.VIDEO)])
    assert slot.modes == (Mode.VIDEO,)
    assert free([rule(mode=RuleMode.VIDEO)], mode=Mode.IN_PERSON) == []
    both = free([rule()], mode=Mode.VIDEO)
    assert both and all(s.modes == (Mode.VIDEO,) for s in both)


# --- window ---------------------------------------------------------------------------------------
def test_window_is_half_open_on_slot_starts():
    slots = free([rule()], start=utc(2027, 1, 4, 9, 30), end=utc(2027, 1, 4, 11, 0))
    assert starts(slots) == ["01-04 09:30", "01-04 10:00", "01-04 10:30"]


def test_window_reaches_rules_whose_local_date_differs_from_utc():
    """A Sunday 23:00 rule in New York is Monday 04:00 UTC: a window of that UTC Monday finds it."""
    r = rule(timezone="America/New_York", weekday=6, start_time=time(23), end_time=time(23, 30))
    slots = free([r], start=utc(2027, 1, 4), end=utc(2027, 1, 5))
    assert [s.start for s in slots] == [utc(2027, 1, 4, 4, 0)]
    r = rule(timezone="Pacific/Kiritimati", start_time=time(1), end_time=time(1, 30))  # UTC+14
    slots = free([r], start=utc(2027, 1, 3), end=utc(2027, 1, 4))
    assert [s.start for s in slots] == [utc(2027, 1, 3, 11, 0)]


# --- exceptions, appointments ---------------------------------------------------------------------
def test_blocks_remove_every_slot_they_touch():
    block = engine.Block(None, utc(2027, 1, 4, 9, 45), utc(2027, 1, 4, 10, 5))
    slots = free([rule()], blocks=[block], start=utc(2027, 1, 4), end=utc(2027, 1, 5))
    assert starts(slots) == ["01-04 09:00", "01-04 10:30", "01-04 11:00", "01-04 11:30"]


def test_block_ending_when_a_slot_starts_does_not_remove_it():
    block = engine.Block(None, utc(2027, 1, 4, 8, 0), utc(2027, 1, 4, 9, 0))
    slots = free([rule()], blocks=[block], start=utc(2027, 1, 4), end=utc(2027, 1, 5))
    assert starts(slots)[0] == "01-04 09:00"


def test_site_block_only_blocks_its_site():
    rules = [rule(site_id=1), rule(site_id=2, weekday=1)]
    block = engine.Block(1, utc(2027, 1, 1), utc(2027, 2, 1))
    slots = free(rules, blocks=[block])
    assert slots and {s.site_id for s in slots} == {2}
    everywhere = engine.Block(None, utc(2027, 1, 1), utc(2027, 2, 1))
    assert free(rules, blocks=[everywhere]) == []


def test_busy_times_remove_overlapping_slots_even_off_grid():
    busy = [(utc(2027, 1, 4, 9, 10), utc(2027, 1, 4, 9, 40))]  # an appointment off the grid
    slots = free([rule()], busy=busy, start=utc(2027, 1, 4), end=utc(2027, 1, 5))
    assert starts(slots) == ["01-04 10:00", "01-04 10:30", "01-04 11:00", "01-04 11:30"]


def test_extra_session_adds_slots_and_overlapping_candidates_never_both_offered():
    extra = engine.Extra(1, utc(2027, 1, 4, 11, 15), utc(2027, 1, 4, 13, 15), 60, RuleMode.VIDEO)
    slots = free([rule()], extras=[extra], start=utc(2027, 1, 4), end=utc(2027, 1, 5))
    # 11:00-11:30 from the rule wins over 11:15-12:15 from the extra session, which overlaps it;
    # 12:15-13:15 comes from the extra session.
    assert starts(slots) == [
        "01-04 09:00",
        "01-04 09:30",
        "01-04 10:00",
        "01-04 10:30",
        "01-04 11:00",
        "01-04 11:30",
        "01-04 12:15",
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(slots))
    assert slots[-1].modes == (Mode.VIDEO,)


def test_extra_session_with_a_mode_filter_offers_its_own_slots():
    extra = engine.Extra(1, utc(2027, 1, 4, 9, 15), utc(2027, 1, 4, 10, 15), 60, RuleMode.VIDEO)
    slots = free(
        [rule(mode=RuleMode.IN_PERSON)],
        extras=[extra],
        start=utc(2027, 1, 4),
        end=utc(2027, 1, 5),
        mode=Mode.VIDEO,
    )
    assert starts(slots) == ["01-04 09:15"]


# --- intervals ------------------------------------------------------------------------------------
def test_intervals_merge_and_answer_overlap_half_open():
    iv = engine.Intervals(
        [
            (utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            (utc(2027, 1, 1, 10, 30), utc(2027, 1, 1, 12)),
            (utc(2027, 1, 1, 14), utc(2027, 1, 1, 15)),
        ]
    )
    assert len(iv.starts) == 2
    assert iv.overlaps(utc(2027, 1, 1, 11, 30), utc(2027, 1, 1, 11, 45))
    assert not iv.overlaps(utc(2027, 1, 1, 12), utc(2027, 1, 1, 14))  # touching is not overlap
    assert not iv.overlaps(utc(2027, 1, 1, 9), utc(2027, 1, 1, 10))
    assert iv.overlaps(utc(2027, 1, 1, 9), utc(2027, 1, 1, 16))
    assert not engine.Intervals([]).overlaps(utc(2027, 1, 1), utc(2027, 1, 2))


# --- covered --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "minutes", "site_id", "mode", "expected"),
    [
        (utc(2027, 1, 4, 9, 0), 30, 1, Mode.IN_PERSON, True),
        (utc(2027, 1, 4, 9, 10), 30, 1, Mode.IN_PERSON, True),  # inside, off the grid
        (utc(2027, 1, 4, 11, 45), 30, 1, Mode.IN_PERSON, False),  # runs past 12:00
        (utc(2027, 1, 4, 9, 0), 30, 2, Mode.IN_PERSON, False),  # another site
        (utc(2027, 1, 5, 9, 0), 30, 1, Mode.IN_PERSON, False),  # Tuesday: no rule
    ],
)
def test_covered(start, minutes, site_id, mode, expected):
    assert (
        engine.covered(
            rules=[rule()],
            extras=[],
            blocks=[],
            start=start,
            end=start + timedelta(minutes=minutes),
            site_id=site_id,
            mode=mode,
        )
        is expected
    )


def test_covered_is_false_when_blocked_or_mode_not_offered():
    start, end = utc(2027, 1, 4, 9, 0), utc(2027, 1, 4, 9, 30)
    args = {"extras": [], "start": start, "end": end, "site_id": 1}
    block = engine.Block(None, utc(2027, 1, 4), utc(2027, 1, 5))
    assert not engine.covered(rules=[rule()], blocks=[block], mode=Mode.VIDEO, **args)
    assert not engine.covered(
        rules=[rule(mode=RuleMode.IN_PERSON)], blocks=[], mode=Mode.VIDEO, **args
    )


def test_wall_time_exists():
    tz = ZoneInfo(LONDON)
    assert not engine.local_wall_time_exists(datetime(2027, 3, 28, 1, 30), tz)  # skipped
    assert engine.local_wall_time_exists(datetime(2027, 3, 28, 2, 0), tz)
    assert engine.local_wall_time_exists(datetime(2026, 10, 25, 1, 30), tz)  # repeated: exists

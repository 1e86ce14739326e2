"""The slot engine: free slots = weekly rules + extra sessions - leave/holidays/blocked hours -
active appointments - slots held by waitlist offers, within the booking window.

Pure functions over plain values (no database), so they are cheap to call for 50 practitioners
and easy to test property-based. `selectors.free_slots` loads the inputs in a few queries.

Rules are wall-clock times in the site's time zone: a 09:00-12:00 rule gives 09:00 local every
week, whatever the UTC offset that day. On the spring-forward day a wall time that does not
exist (02:30 in Europe/London) gives no slot; on the fall-back day a repeated wall time gives one
slot, at its first occurrence. Slot ends are start + length in real time, so no slot is ever
longer or shorter than its length."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from carehub.scheduling.choices import Mode, RuleMode

MODES_OF_RULE: dict[str, tuple[str, ...]] = {
    RuleMode.IN_PERSON: (Mode.IN_PERSON,),
    RuleMode.VIDEO: (Mode.VIDEO,),
    RuleMode.BOTH: (Mode.IN_PERSON, Mode.VIDEO),
}


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class Rule:
    site_id: int
    timezone: str
    weekday: int
    start_time: time
    end_time: time
    slot_minutes: int
    mode: str
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class Extra:
    """An extra session: slots from `start` to `end` (UTC) at `site_id`."""

    site_id: int
    start: datetime
    end: datetime
    slot_minutes: int
    mode: str


@dataclass(frozen=True, slots=True)
class Block:
    """Leave, a holiday or blocked hours; `site_id` None blocks every site."""

    site_id: int | None
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    start: datetime  # UTC
    end: datetime
    site_id: int
    modes: tuple[str, ...]


def local_wall_time_exists(naive: datetime, tz: ZoneInfo) -> bool:
    """False for wall times skipped by a spring-forward change."""
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def rule_slots(rule: Rule, first_day: date, last_day: date) -> Iterator[Slot]:
    """The slots of one weekly rule on local dates first_day..last_day (inclusive)."""
    tz = zone(rule.timezone)
    length = timedelta(minutes=rule.slot_minutes)
    modes = MODES_OF_RULE[rule.mode]
    offset = (rule.weekday - first_day.weekday()) % 7
    day = first_day + timedelta(days=offset)
    while day <= last_day:
        if (rule.valid_from is None or day >= rule.valid_from) and (
            rule.valid_until is None or day <= rule.valid_until
        ):
            wall = datetime.combine(day, rule.start_time)
            wall_end = datetime.combine(day, rule.end_time)
            real_start = wall.replace(tzinfo=tz).astimezone(UTC)
            real_end = wall_end.replace(tzinfo=tz).astimezone(UTC)
            if (
                real_end - real_start == wall_end - wall
                and local_wall_time_exists(wall, tz)
                and local_wall_time_exists(wall_end, tz)
            ):
                # No clock change during the rule's hours (every day but two a year): one UTC
                # offset for all its slots, no conversion per slot.
                start = real_start
                while start + length <= real_end:
                    yield Slot(start, start + length, rule.site_id, modes)
                    start += length
            else:
                # A slot that crosses a spring-forward gap lasts an hour less on the wall
                # clock than in real time: it must also end by the rule's end in real time.
                while wall + length <= wall_end:
                    if local_wall_time_exists(wall, tz):
                        start = wall.replace(tzinfo=tz).astimezone(UTC)
                        if start + length <= real_end:
                            yield Slot(start, start + length, rule.site_id, modes)
                    wall += length
        day += timedelta(days=7)


def extra_slots(extra: Extra) -> Iterator[Slot]:
    length = timedelta(minutes=extra.slot_minutes)
    modes = MODES_OF_RULE[extra.mode or RuleMode.BOTH]
    start = extra.start
    while start + length <= extra.end:
        yield Slot(start, start + length, extra.site_id, modes)
        start += length


class Intervals:
    """A union of [start, end) intervals that answers "does this overlap?" by bisection."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # The last interval starting before `end` is the only candidate (they are disjoint).
        i = bisect.bisect_left(self.starts, end) - 1
        return i >= 0 and self.ends[i] > start


def free_slots(
    *,
    rules: Iterable[Rule],
    extras: Iterable[Extra] = (),
    blocks: Iterable[Block] = (),
    busy: Iterable[tuple[datetime, datetime]] = (),
    window_start: datetime,
    window_end: datetime,
    mode: str | None = None,
) -> list[Slot]:
    """Free slots starting in [window_start, window_end), sorted, never overlapping each other.

    `busy`: active appointments of the practitioner at any site and slots held for someone else.
    Where rules or extra sessions overlap, the earliest-starting slot wins."""
    rules = list(rules)
    candidates: list[Slot] = []
    for rule in rules:
        tz = zone(rule.timezone)
        # Local dates that can hold a slot starting inside the window (±1 day for offsets).
        first = window_start.astimezone(tz).date() - timedelta(days=1)
        last = window_end.astimezone(tz).date()
        candidates.extend(rule_slots(rule, first, last))
    for extra in extras:
        candidates.extend(extra_slots(extra))
    blocked_all = Intervals((b.start, b.end) for b in blocks if b.site_id is None)
    blocked_site: dict[int, Intervals] = {}
    for site_id in {b.site_id for b in blocks if b.site_id is not None}:
        blocked_site[site_id] = Intervals((b.start, b.end) for b in blocks if b.site_id == site_id)
    taken = Intervals(busy)
    candidates.sort()
    free: list[Slot] = []
    last_end: datetime | None = None
    for slot in candidates:
        if slot.start < window_start or slot.start >= window_end:
            continue
        if mode is not None and mode not in slot.modes:
            continue
        if last_end is not None and slot.start < last_end:
            continue  # overlaps a slot already offered (overlapping rules or extra sessions)
        if blocked_all.overlaps(slot.start, slot.end):
            continue
        site_blocks = blocked_site.get(slot.site_id)
        if site_blocks is not None and site_blocks.overlaps(slot.start, slot.end):
            continue
        if taken.overlaps(slot.start, slot.end):
            continue
        if mode is not None:
            slot = Slot(slot.start, slot.end, slot.site_id, (mode,))
        free.append(slot)
        last_end = slot.end
    return free


def covered(
    *,
    rules: Iterable[Rule],
    extras: Iterable[Extra],
    blocks: Iterable[Block],
    start: datetime,
    end: datetime,
    site_id: int,
    mode: str,
) -> bool:
    """True when [start, end) at `site_id` lies inside availability (a rule or an extra session
    of that site and mode, not blocked), whether or not it matches one slot exactly. Used to
    list appointments that an availability change leaves stranded."""
    windows: list[tuple[datetime, datetime]] = []
    for rule in rules:
        if rule.site_id != site_id or mode not in MODES_OF_RULE[rule.mode]:
            continue
        tz = zone(rule.timezone)
        for day in (start.astimezone(tz).date() + timedelta(days=d) for d in (-1, 0)):
            if day.weekday() != rule.weekday:
                continue
            if rule.valid_from and day < rule.valid_from:
                continue
            if rule.valid_until and day > rule.valid_until:
                continue
            # A start inside a spring-forward gap: the rule's first slot comes when the clock
            # jumps, so take the earlier reading of that wall time (fold=1), not the later one.
            wall_start = datetime.combine(day, rule.start_time)
            fold = 0 if local_wall_time_exists(wall_start, tz) else 1
            windows.append(
                (
                    wall_start.replace(tzinfo=tz, fold=fold).astimezone(UTC),
                    datetime.combine(day, rule.end_time, tzinfo=tz).astimezone(UTC),
                )
            )
    for extra in extras:
        if extra.site_id == site_id and mode in MODES_OF_RULE[extra.mode or RuleMode.BOTH]:
            windows.append((extra.start, extra.end))
    if not any(w_start <= start and end <= w_end for w_start, w_end in windows):
        return False
    return not any(
        (b.site_id is None or b.site_id == site_id) and b.start < end and start < b.end
        for b in blocks
    )

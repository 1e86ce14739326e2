"""Test data for scheduling: weekly rules and appointments through the real services."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from carehub.directory.tests.factories import SiteFactory, make_practitioner
from carehub.scheduling.choices import RuleMode
from carehub.scheduling.models import AvailabilityRule


def make_site(tz: str = "Europe/London", **kwargs):
    kwargs.setdefault("timezone", tz)
    return SiteFactory.create(**kwargs)


def make_rule(
    practitioner,
    *,
    site=None,
    weekdays=range(7),
    start: time = time(9, 0),
    end: time = time(12, 0),
    slot_minutes: int = 30,
    mode: str = RuleMode.BOTH,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> list[AvailabilityRule]:
    site = site or practitioner.sites.first()
    return [
        AvailabilityRule.objects.create(
            practitioner=practitioner,
            site=site,
            weekday=day,
            start_time=start,
            end_time=end,
            slot_minutes=slot_minutes,
            mode=mode,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        for day in weekdays
    ]


def bookable_doctor(*, site=None, specialty_code: str = "general_practice", **rule_kwargs):
    """A doctor who sees patients every day 09:00-12:00 (30-minute slots) at `site`."""
    site = site or make_site()
    doctor = make_practitioner(site=site, specialty_code=specialty_code)
    make_rule(doctor, site=site, **rule_kwargs)
    return doctor


def local(site, day: date, hour: int, minute: int = 0) -> datetime:
    """An aware datetime at a wall-clock time of the site's zone."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(site.timezone))


def days_ahead(n: int) -> date:
    from django.utils import timezone

    return timezone.localdate() + timedelta(days=n)

"""Every staff scheduling page and form endpoint against the shared access contract."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.testing.contracts import PageContract
from carehub.directory.tests.factories import make_practitioner
from carehub.patients.tests.factories import PatientFactory
from carehub.scheduling import services
from carehub.scheduling.choices import Status
from carehub.scheduling.models import Appointment, AvailabilityException
from carehub.scheduling.tests.factories import make_rule, make_site

ADMIN = (Role.RECEPTIONIST, Role.CLINIC_ADMIN)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
STAFF = ADMIN + CLINICIANS
AVAILABILITY = (Role.DOCTOR, Role.CLINIC_ADMIN)
# An audited write (change records, named events, notifications) on top of the test sign-in;
# on PostgreSQL each chained audit row costs several queries.
WRITE_QUERIES = 70


def make_appointment(
    practitioner,
    *,
    start: datetime | None = None,
    minutes: int = 30,
    patient=None,
    site=None,
    status: str = Status.BOOKED,
    mode: str = "in_person",
    reason: str = "",
) -> Appointment:
    """An appointment written straight to the table (no availability check): for pages that
    only read or change its status."""
    start = start or timezone.now() + timedelta(hours=1)
    site = site or practitioner.sites.first()
    return Appointment.objects.create(
        practitioner=practitioner,
        patient=patient or PatientFactory.create(site=site),
        site=site,
        start=start,
        end=start + timedelta(minutes=minutes),
        mode=mode,
        status=status,
        reason=reason,
    )


def local_day(appointment: Appointment) -> str:
    return appointment.start.astimezone(ZoneInfo(appointment.site.timezone)).date().isoformat()


def tomorrow_at(site, hour: int, minute: int = 0) -> datetime:
    tz = ZoneInfo(site.timezone)
    day = timezone.now().astimezone(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def _own(actor, appointment: Appointment) -> None:
    """Give a clinician's appointment to `actor` (their own list)."""
    if actor.role in CLINICIANS:
        appointment.practitioner = actor.practitioner
        appointment.save()


class _AppointmentTarget:
    """Pages about one appointment's patient: its access rows are the ones expected."""

    def make_target(self):
        return make_appointment(make_practitioner())

    def target_patient_id(self, target):
        return target.patient.public_id


# --- a clinician's day and week ------------------------------------------------------------------
class TestDayPage(_AppointmentTarget, PageContract):
    url_name = "scheduling:day"
    allowed_roles = CLINICIANS
    expected_access = ("appointments",)

    def grant(self, actor, target):
        _own(actor, target)

    def url(self, target):
        return reverse(self.url_name) + f"?date={local_day(target)}"


class TestWeekPage(TestDayPage):
    url_name = "scheduling:week"


class TestTransitionSubmit(_AppointmentTarget, PageContract):
    url_name = "scheduling:transition"
    method = "post"
    allowed_roles = STAFF
    relationship_roles = CLINICIANS  # they change their own appointments only
    expected_status = 302
    expected_events = ("appointment.checked_in",)
    max_queries = WRITE_QUERIES

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def grant(self, actor, target):
        _own(actor, target)

    def data(self, target):
        return {"status": "checked_in", "next": "/appointments/day/"}


# --- reception: calendar and reassignment --------------------------------------------------------
class TestCalendarPage(_AppointmentTarget, PageContract):
    url_name = "scheduling:calendar"
    allowed_roles = ADMIN
    expected_access = ("appointments",)

    def url(self, target):
        return reverse(self.url_name) + f"?date={local_day(target)}&site={target.site.public_id}"


class _DayToReassign(_AppointmentTarget):
    def make_target(self):
        site = make_site()
        doctor = make_practitioner(site=site)
        appointment = make_appointment(doctor, start=tomorrow_at(site, 10))
        appointment.colleague = make_practitioner(site=site)
        make_rule(appointment.colleague, site=site)  # sees patients 09:00-12:00 every day
        return appointment

    def url(self, target):
        return reverse(self.url_name) + (
            f"?practitioner={target.practitioner.public_id}&date={local_day(target)}"
            f"&target={target.colleague.public_id}"
        )


class TestReassignPreview(_DayToReassign, PageContract):
    url_name = "scheduling:reassign"
    allowed_roles = ADMIN
    expected_access = ("appointments",)
    max_queries = 30  # the preview also loads the colleague's hours, clashes and leave


class TestReassignMoveSubmit(_DayToReassign, PageContract):
    url_name = "scheduling:reassign"
    method = "post"
    allowed_roles = ADMIN
    expected_access = ("appointments",)  # the result page lists the patient
    expected_events = ("appointment.reassigned",)
    max_queries = WRITE_QUERIES

    def url(self, target):
        return reverse(self.url_name)

    def data(self, target):
        return {
            "practitioner": str(target.practitioner.public_id),
            "date": local_day(target),
            "target": str(target.colleague.public_id),
            "action": "move",
        }


class TestReassignCancelSubmit(TestReassignMoveSubmit):
    expected_events = ("appointment.cancelled",)

    def data(self, target):
        return {
            "practitioner": str(target.practitioner.public_id),
            "date": local_day(target),
            "action": "cancel",
            "cancel_reason": "The doctor is unwell.",
        }


# --- availability --------------------------------------------------------------------------------
class _Practitioner:
    """Pages about a practitioner's availability: a doctor works on their own, an administrator
    names the practitioner in the query string."""

    def make_target(self):
        return {"practitioner": make_practitioner()}

    def grant(self, actor, target):
        if actor.role == Role.DOCTOR:
            target["practitioner"] = actor.practitioner

    def url(self, target):
        return reverse(self.url_name) + f"?practitioner={target['practitioner'].public_id}"


class TestAvailabilityPage(PageContract):
    """With a booked appointment outside the (empty) availability: it is listed, and logged."""

    url_name = "scheduling:availability"
    allowed_roles = AVAILABILITY
    expected_access = ("appointments",)

    def make_target(self):
        return make_appointment(make_practitioner(), start=timezone.now() + timedelta(days=2))

    def grant(self, actor, target):
        _own(actor, target)

    def target_patient_id(self, target):
        return target.patient.public_id

    def url(self, target):
        return reverse(self.url_name) + f"?practitioner={target.practitioner.public_id}"


class TestRuleAddSubmit(_Practitioner, PageContract):
    url_name = "scheduling:rule_add"
    method = "post"
    allowed_roles = AVAILABILITY
    expected_status = 302
    max_queries = WRITE_QUERIES

    def data(self, target):
        return {
            "weekday": "0",
            "site": str(target["practitioner"].sites.first().public_id),
            "start_time": "09:00",
            "end_time": "12:00",
            "slot_minutes": "20",
            "mode": "both",
        }


class TestExceptionAddSubmit(_Practitioner, PageContract):
    url_name = "scheduling:exception_add"
    method = "post"
    allowed_roles = AVAILABILITY
    expected_status = 302
    max_queries = WRITE_QUERIES

    def data(self, target):
        day = (timezone.now() + timedelta(days=10)).date().isoformat()
        return {"kind": "leave", "start": f"{day}T00:00", "end": f"{day}T23:59", "note": "Away"}


class _Rule:
    def make_target(self):
        return make_rule(make_practitioner(), weekdays=[2])[0]

    def grant(self, actor, target):
        if actor.role == Role.DOCTOR:
            target.practitioner = actor.practitioner
            target.site = actor.practitioner.sites.first()
            target.save()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


class TestRuleEditPage(_Rule, PageContract):
    url_name = "scheduling:rule_edit"
    allowed_roles = AVAILABILITY
    relationship_roles = (Role.DOCTOR,)  # another doctor's rule: 404


class TestRuleEditSubmit(TestRuleEditPage):
    method = "post"
    expected_status = 302
    max_queries = WRITE_QUERIES

    def data(self, target):
        return {
            "weekday": "2",
            "site": str(target.site.public_id),
            "start_time": "08:00",
            "end_time": "11:00",
            "slot_minutes": "15",
            "mode": "video",
        }


class TestRuleDeleteSubmit(_Rule, PageContract):
    url_name = "scheduling:rule_delete"
    method = "post"
    allowed_roles = AVAILABILITY
    relationship_roles = (Role.DOCTOR,)
    expected_status = 302
    max_queries = WRITE_QUERIES


class TestExceptionDeleteSubmit(PageContract):
    url_name = "scheduling:exception_delete"
    method = "post"
    allowed_roles = AVAILABILITY
    relationship_roles = (Role.DOCTOR,)
    expected_status = 302
    max_queries = WRITE_QUERIES

    def make_target(self):
        practitioner = make_practitioner()
        start = timezone.now() + timedelta(days=5)
        return AvailabilityException.objects.create(
            practitioner=practitioner, kind="leave", start=start, end=start + timedelta(days=1)
        )

    def grant(self, actor, target):
        if actor.role == Role.DOCTOR:
            target.practitioner = actor.practitioner
            target.save()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}


# --- calendar feeds ------------------------------------------------------------------------------
class TestFeedsPage(_Practitioner, PageContract):
    url_name = "scheduling:feeds"
    allowed_roles = AVAILABILITY


class TestFeedCreateSubmit(_Practitioner, PageContract):
    url_name = "scheduling:feeds"
    method = "post"
    allowed_roles = AVAILABILITY
    expected_status = 200  # the new URL is shown once, on this response
    expected_events = ("calendar_feed.created",)
    max_queries = WRITE_QUERIES

    def data(self, target):
        return {"action": "create"}


class TestFeedRevokeSubmit(PageContract):
    url_name = "scheduling:feeds"
    method = "post"
    allowed_roles = AVAILABILITY
    relationship_roles = (Role.DOCTOR,)  # another doctor's feed: 404
    expected_status = 302
    expected_events = ("calendar_feed.revoked",)
    max_queries = WRITE_QUERIES

    def make_target(self):
        practitioner = make_practitioner()
        feed, _ = services.feed_create(
            actor=make_user(Role.CLINIC_ADMIN), practitioner=practitioner
        )
        return feed

    def grant(self, actor, target):
        if actor.role == Role.DOCTOR:
            target.practitioner = actor.practitioner
            target.save()

    def url(self, target):
        return reverse(self.url_name) + f"?practitioner={target.practitioner.public_id}"

    def data(self, target):
        return {"action": "revoke", "feed": target.token_hash}

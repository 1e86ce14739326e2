"""Every patient scheduling page and form endpoint against the shared access contract."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, ClassVar

from carehub.accounts.choices import Role
from carehub.core.testing.contracts import ALL_ROLES, PageContract, make_actor
from carehub.patients.tests.factories import PatientFactory, make_patient_user, relate
from carehub.patients.tests.helpers import own
from carehub.scheduling import services
from carehub.scheduling.models import WaitlistOffer
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local

PATIENT = (Role.PATIENT,)
ADMIN = (Role.RECEPTIONIST, Role.CLINIC_ADMIN)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
BOOKERS = PATIENT + ADMIN
SEE = BOOKERS + CLINICIANS
# A booking is an audited write (change records, named events, a notification, the care
# relationship) on top of the test sign-in; on PostgreSQL each chained audit row costs several
# queries.
WRITE_QUERIES = 80
# Pages that compute free slots: availability is read in a few queries per search.
SLOT_QUERIES = 40


def make_appointment(patient=None):
    """A booked appointment in three days' time, through the real service."""
    doctor = bookable_doctor()
    patient = patient or make_patient_user()
    return services.appointment_book(
        actor=patient.user,
        practitioner=doctor,
        start=local(doctor.sites.first(), days_ahead(3), 9, 0),
        mode="in_person",
        reason="Cough for two weeks",
    )


def make_offer(patient=None):
    """An open waitlist offer: the patient joins while a slot is free, so one comes at once."""
    doctor = bookable_doctor()
    patient = patient or make_patient_user()
    entry = services.waitlist_join(
        actor=patient.user,
        practitioner=doctor,
        date_from=days_ahead(2),
        date_to=days_ahead(4),
    )
    return WaitlistOffer.objects.get(entry=entry)


def grant_by_role(actor, patient) -> None:
    """A patient gets the record as their own; a clinician a care relationship."""
    if actor.role == Role.PATIENT:
        own(actor, patient)
    elif actor.role in CLINICIANS:
        relate(actor.practitioner, patient)


class _Appointment:
    """Pages about one appointment: its patient's access rows are the ones expected."""

    def make_target(self):
        return make_appointment()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def grant(self, actor, target):
        grant_by_role(actor, target.patient)

    def target_patient_id(self, target):
        return target.patient.public_id


class _OwnList(_Appointment):
    """The patient's own list: no id in the URL; the target is made theirs."""

    def url_kwargs(self, target):
        return {}


class _Slot:
    """A free slot of a bookable doctor, and a patient to book it for."""

    def make_target(self):
        doctor = bookable_doctor()
        return SimpleNamespace(
            doctor=doctor,
            start=local(doctor.sites.first(), days_ahead(3), 10, 0),
            patient=PatientFactory(),
        )

    def grant(self, actor, target):
        if actor.role == Role.PATIENT:
            own(actor, target.patient)

    def target_patient_id(self, target):
        return target.patient.public_id

    def data(self, target):
        return {
            "practitioner": str(target.doctor.public_id),
            "start": target.start.isoformat(),
            "mode": "in_person",
            "patient": str(target.patient.public_id),
        }


class _GateWiderThanClass:
    """For a page whose gate admits roles that need different expectations (staff see the
    patient's name, patients do not): `gate` is the whole gate, checked for 403 here, and
    `allowed_roles` the roles this class checks in depth."""

    gate: ClassVar[tuple[str, ...]] = ()

    def test_wrong_roles_are_forbidden(self) -> None:
        contract: Any = self
        target = contract.make_target()
        for role in ALL_ROLES:
            if role in self.gate:
                continue
            response = contract.request(make_actor(role), target)
            assert response.status_code == 403, f"{role} got {response.status_code}"


# --- the patient's appointments ---------------------------------------------------------------
class TestMinePage(_GateWiderThanClass, _OwnList, PageContract):
    """Staff are sent on to their own pages (tested with the pages)."""

    url_name = "scheduling:mine"
    gate = SEE
    allowed_roles = PATIENT
    expected_access = ("appointments",)


class TestDetailPage(_Appointment, PageContract):
    url_name = "scheduling:detail"
    allowed_roles = SEE
    relationship_roles = PATIENT + CLINICIANS
    expected_access = ("appointments",)


class TestCalendarFile(_Appointment, PageContract):
    url_name = "scheduling:ics"
    allowed_roles = SEE
    relationship_roles = PATIENT + CLINICIANS
    expected_access = ("appointments",)


class TestCancelPage(_Appointment, PageContract):
    url_name = "scheduling:cancel"
    allowed_roles = PATIENT
    relationship_roles = PATIENT
    expected_access = ("appointments",)


class TestCancelSubmit(TestCancelPage):
    method = "post"
    expected_status = 302
    expected_events = ("appointment.cancelled",)
    max_queries = WRITE_QUERIES

    def data(self, target):
        return {"reason": "I feel better"}


class TestReschedulePage(_Appointment, PageContract):
    url_name = "scheduling:reschedule"
    allowed_roles = PATIENT
    relationship_roles = PATIENT
    expected_access = ("appointments",)
    max_queries = SLOT_QUERIES


class TestRescheduleSubmit(TestReschedulePage):
    method = "post"
    expected_status = 302
    expected_events = ("appointment.rescheduled",)
    max_queries = WRITE_QUERIES

    def data(self, target):
        return {"start": (target.start + timedelta(days=1)).isoformat(), "mode": "in_person"}


# --- booking ------------------------------------------------------------------------------------
class TestBookPage(PageContract):
    url_name = "scheduling:book"
    allowed_roles = BOOKERS

    def make_target(self):
        return bookable_doctor()


class TestBookSlotsPage(PageContract):
    url_name = "scheduling:book_slots"
    allowed_roles = BOOKERS
    max_queries = SLOT_QUERIES

    def make_target(self):
        return bookable_doctor()

    def url_kwargs(self, target):
        return {"specialty_code": "general_practice"}


class TestBookConfirmPage(_GateWiderThanClass, _Slot, PageContract):
    """A patient confirms their own booking: nothing about them is shown."""

    url_name = "scheduling:book_confirm"
    gate = BOOKERS
    allowed_roles: ClassVar[tuple[str, ...]] = PATIENT
    expected_access: ClassVar[tuple[str, ...]] = ()
    max_queries = SLOT_QUERIES


class TestBookConfirmPageForStaff(TestBookConfirmPage):
    """Reception books for a patient: the page names them, and that read is logged."""

    allowed_roles = ADMIN
    expected_access = ("demographics",)


class TestBookConfirmSubmit(_Slot, PageContract):
    url_name = "scheduling:book_confirm"
    method = "post"
    allowed_roles = BOOKERS
    expected_status = 302
    expected_events = ("appointment.booked",)
    max_queries = WRITE_QUERIES


# --- waitlist and offers -------------------------------------------------------------------------
class _Offer:
    def make_target(self):
        return make_offer()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def grant(self, actor, target):
        own(actor, target.entry.patient)

    def target_patient_id(self, target):
        return target.entry.patient.public_id


class TestWaitlistPage(_Offer, PageContract):
    url_name = "scheduling:waitlist"
    allowed_roles = PATIENT
    expected_access = ("appointments",)

    def url_kwargs(self, target):
        return {}


class TestWaitlistJoinSubmit(PageContract):
    url_name = "scheduling:waitlist_join"
    method = "post"
    allowed_roles = PATIENT
    expected_status = 302
    expected_events = ("waitlist.joined",)
    max_queries = WRITE_QUERIES

    def make_target(self):
        return bookable_doctor()

    def data(self, target):
        return {
            "practitioner": str(target.public_id),
            "date_from": days_ahead(1).isoformat(),
            "date_to": days_ahead(10).isoformat(),
        }


class TestWaitlistLeaveSubmit(_Offer, PageContract):
    url_name = "scheduling:waitlist_leave"
    method = "post"
    allowed_roles = PATIENT
    relationship_roles = PATIENT
    expected_status = 302
    max_queries = WRITE_QUERIES

    def url_kwargs(self, target):
        return {"public_id": target.entry.public_id}


class TestOfferAcceptSubmit(_Offer, PageContract):
    url_name = "scheduling:offer_accept"
    method = "post"
    allowed_roles = PATIENT
    relationship_roles = PATIENT
    expected_status = 302
    expected_events = ("appointment.booked",)
    max_queries = WRITE_QUERIES


class TestOfferDeclineSubmit(_Offer, PageContract):
    url_name = "scheduling:offer_decline"
    method = "post"
    allowed_roles = PATIENT
    relationship_roles = PATIENT
    expected_status = 302
    max_queries = WRITE_QUERIES

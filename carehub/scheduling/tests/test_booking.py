"""Booking, rescheduling and cancelling through the services: the rules a patient meets."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import IntegrityError, transaction

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.exceptions import Conflict, Forbidden
from carehub.notifications.models import Message
from carehub.patients.models import CareRelationship
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import selectors, services
from carehub.scheduling.choices import Status
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def site(doctor):
    return doctor.sites.first()


@pytest.fixture
def patient():
    return make_patient_user(family_name="Featherstonehaugh")


def book(patient, doctor, start, mode="in_person", **kwargs):
    return services.appointment_book(
        actor=patient.user, practitioner=doctor, start=start, mode=mode, **kwargs
    )


def test_patient_books_a_free_slot(doctor, site, patient):
    start = local(site, days_ahead(3), 9, 30)
    appointment = book(patient, doctor, start, reason="Cough for two weeks")
    assert appointment.status == Status.BOOKED
    assert appointment.end - appointment.start == timedelta(minutes=30)
    assert appointment.patient == patient
    # Booking creates the care relationship the access policies use.
    assert CareRelationship.objects.filter(
        practitioner=doctor, patient=patient, ended_at__isnull=True
    ).exists()
    # The doctor is told, without the patient's name in the message.
    message = Message.objects.get(recipient=doctor.user)
    assert patient.family_name not in message.title
    # The slot is no longer offered.
    free = selectors.free_slots(
        practitioner_ids=[doctor.pk],
        start=start - timedelta(hours=1),
        end=start + timedelta(hours=1),
    )[doctor.pk]
    assert start not in [s.start for s in free]


def test_taken_slot_is_409_with_alternatives(doctor, site, patient):
    start = local(site, days_ahead(3), 10, 0)
    book(patient, doctor, start)
    with pytest.raises(services.SlotUnavailable) as caught:
        book(make_patient_user(), doctor, start)
    assert caught.value.status == 409
    assert caught.value.extra["code"] == "taken"
    alternatives = caught.value.extra["alternatives"]
    assert alternatives and all(a["start"] != start.isoformat() for a in alternatives)


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (lambda site: local(site, days_ahead(-1), 9, 0), "past"),
        (lambda site: local(site, days_ahead(3), 13, 0), "outside_availability"),
        (lambda site: local(site, days_ahead(3), 9, 10), "outside_availability"),
        (lambda site: local(site, days_ahead(200), 9, 0), "beyond_horizon"),
    ],
)
def test_refusals_say_why(doctor, site, patient, when, code):
    with pytest.raises(services.SlotUnavailable) as caught:
        book(patient, doctor, when(site))
    assert caught.value.extra["code"] == code
    assert not Appointment.objects.exists()


def test_minimum_notice_applies_to_patients_not_staff(doctor, site, patient):
    site.booking_min_notice_minutes = 60 * 24 * 3
    site.save()
    start = local(site, days_ahead(1), 9, 0)
    with pytest.raises(services.SlotUnavailable) as caught:
        book(patient, doctor, start)
    assert caught.value.extra["code"] == "too_soon"
    receptionist = make_user(Role.RECEPTIONIST)
    appointment = services.appointment_book(
        actor=receptionist,
        practitioner=doctor,
        start=start,
        mode="video",
        patient_public_id=patient.public_id,
    )
    assert appointment.booked_by == receptionist
    assert Message.objects.filter(recipient=patient.user).exists()


def test_patient_cannot_hold_two_overlapping_appointments(site, patient):
    first = bookable_doctor(site=site)
    second = bookable_doctor(site=site)
    start = local(site, days_ahead(4), 9, 0)
    book(patient, first, start)
    with pytest.raises(Conflict) as caught:
        book(patient, second, start)
    assert caught.value.extra["code"] == "patient_overlap"


def test_database_refuses_overlap_whatever_the_code(doctor, site, patient):
    start = local(site, days_ahead(5), 9, 0)
    appointment = book(patient, doctor, start)
    other = make_patient_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            practitioner=doctor,
            patient=other,
            site=site,
            start=appointment.start + timedelta(minutes=10),
            end=appointment.end + timedelta(minutes=10),
            mode="in_person",
        )
    # A cancelled appointment no longer holds its time.
    services.appointment_cancel(actor=patient.user, appointment=appointment, reason="Better")
    Appointment.objects.create(
        practitioner=doctor,
        patient=other,
        site=site,
        start=appointment.start,
        end=appointment.end,
        mode="in_person",
    )


def test_reschedule_moves_and_frees_the_old_slot(doctor, site, patient):
    start = local(site, days_ahead(3), 9, 0)
    appointment = book(patient, doctor, start)
    new_start = local(site, days_ahead(4), 11, 0)
    services.appointment_reschedule(actor=patient.user, appointment=appointment, start=new_start)
    appointment.refresh_from_db()
    assert appointment.start == new_start
    assert appointment.reschedule_count == 1
    # the old time can be booked by someone else
    book(make_patient_user(), doctor, start)


def test_reschedule_onto_its_own_time_shifted_by_one_slot(doctor, site, patient):
    """Moving 09:00 to 09:30 must not collide with itself."""
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    services.appointment_reschedule(
        actor=patient.user, appointment=appointment, start=local(site, days_ahead(3), 9, 30)
    )


def test_cancellation_cutoff_for_patients(doctor, site, patient):
    site.cancellation_cutoff_minutes = 60 * 24 * 7
    site.save()
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    with pytest.raises(Conflict) as caught:
        services.appointment_cancel(actor=patient.user, appointment=appointment, reason="x")
    assert caught.value.extra["code"] == "cutoff"
    services.appointment_cancel(
        actor=make_user(Role.RECEPTIONIST), appointment=appointment, reason="Patient phoned"
    )
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED


def test_status_transitions(doctor, site, patient, time_machine):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    time_machine.move_to(appointment.start - timedelta(minutes=10))
    services.appointment_transition(actor=doctor.user, appointment=appointment, status="checked_in")
    services.appointment_transition(
        actor=doctor.user, appointment=appointment, status="in_progress"
    )
    services.appointment_transition(actor=doctor.user, appointment=appointment, status="completed")
    with pytest.raises(Conflict):
        services.appointment_transition(
            actor=doctor.user, appointment=appointment, status="no_show"
        )


def test_reassign_moves_only_into_the_colleagues_hours(doctor, site, patient):
    colleague = bookable_doctor(site=site, start=time(9, 0), end=time(10, 0))
    early = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    late = book(make_patient_user(), doctor, local(site, days_ahead(3), 11, 0))
    result = services.appointments_reassign(
        actor=make_user(Role.RECEPTIONIST), practitioner=doctor, day=days_ahead(3), target=colleague
    )
    assert [a.pk for a in result.moved] == [early.pk]
    assert [(a.pk, why) for a, why in result.left] == [
        (late.pk, f"{colleague.display_name} does not see patients at that time.")
    ]
    late.refresh_from_db()
    assert late.practitioner == doctor


def test_reception_checks_in_but_does_not_run_the_visit(doctor, site, patient, time_machine):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    time_machine.move_to(appointment.start - timedelta(minutes=5))
    receptionist = make_user(Role.RECEPTIONIST)
    services.appointment_transition(
        actor=receptionist, appointment=appointment, status="checked_in"
    )
    for status in ("in_progress", "completed"):
        with pytest.raises(Forbidden):
            services.appointment_transition(
                actor=receptionist, appointment=appointment, status=status
            )
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN


def test_a_status_change_does_not_undo_a_cancellation(doctor, site, patient, time_machine):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    stale = Appointment.objects.get(pk=appointment.pk)  # the day page, loaded before
    services.appointment_cancel(actor=patient.user, appointment=appointment, reason="Better")
    time_machine.move_to(appointment.start - timedelta(minutes=5))
    with pytest.raises(Conflict):
        services.appointment_transition(actor=doctor.user, appointment=stale, status="checked_in")
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED

"""Care relationships: one active per practitioner and patient, whatever the timing."""

from __future__ import annotations

import pytest

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.directory.tests.factories import make_practitioner
from carehub.patients import services
from carehub.patients.choices import RelationshipSource
from carehub.patients.models import CareRelationship
from carehub.patients.tests.factories import PatientFactory, relate

pytestmark = pytest.mark.django_db


def test_ensure_returns_the_active_relationship():
    doctor, patient = make_practitioner(), PatientFactory()
    first = services.care_relationship_ensure(
        actor=make_user(Role.RECEPTIONIST), practitioner=doctor, patient=patient
    )
    again = services.care_relationship_ensure(
        actor=make_user(Role.RECEPTIONIST), practitioner=doctor, patient=patient
    )
    assert first == again
    assert CareRelationship.objects.filter(practitioner=doctor, patient=patient).count() == 1


def test_ensure_survives_a_relationship_created_meanwhile(monkeypatch):
    """Two first bookings at once: both look, neither finds one, both create. The second
    create meets the one-active-relationship constraint and must return the other's row, not
    fail the booking with a 500."""
    doctor, patient = make_practitioner(), PatientFactory()
    theirs = relate(doctor, patient)  # committed by the other booking after our look-up
    real_filter = CareRelationship.objects.filter
    looked = []

    def look_before_the_other_commit(*args, **kwargs):
        found = real_filter(*args, **kwargs)
        if not looked:
            looked.append(True)
            return found.none()
        return found

    monkeypatch.setattr(CareRelationship.objects, "filter", look_before_the_other_commit)
    patient_user = make_user(Role.PATIENT)
    ours = services.care_relationship_ensure(
        actor=patient_user,
        practitioner=doctor,
        patient=patient,
        source=RelationshipSource.APPOINTMENT,
    )
    assert ours == theirs

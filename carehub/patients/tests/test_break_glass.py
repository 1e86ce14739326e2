"""Emergency (break-glass) access by a clinician outside the care team."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.audit.choices import Priority, Purpose
from carehub.audit.models import AccessRecord, Event
from carehub.core.testing.contracts import client_for, make_actor
from carehub.patients.models import BreakGlassGrant
from carehub.patients.tests.factories import PatientFactory, make_patient_user, relate

pytestmark = pytest.mark.django_db

REASON = "Collapsed in the waiting room, needs medication history now."


@pytest.fixture
def doctor():
    return make_actor(Role.DOCTOR)


@pytest.fixture
def patient():
    return make_patient_user()


def detail_url(patient):
    return reverse("patients:detail", kwargs={"public_id": patient.public_id})


def glass_url(patient):
    return reverse("patients:break_glass", kwargs={"public_id": patient.public_id})


def test_clinician_without_relationship_gets_not_found(doctor, patient):
    assert client_for(doctor).get(detail_url(patient)).status_code == 404
    assert not AccessRecord.objects.filter(patient_id=patient.public_id).exists()


def test_exact_mrn_search_offers_emergency_access_and_is_logged(doctor, patient):
    client = client_for(doctor)
    by_name = client.get(reverse("patients:list"), {"q": patient.family_name})
    assert patient.mrn not in by_name.content.decode()
    assert not AccessRecord.objects.filter(patient_id=patient.public_id).exists()

    by_mrn = client.get(reverse("patients:list"), {"q": patient.mrn.lower()})
    body = by_mrn.content.decode()
    assert patient.mrn in body and patient.family_name in body
    assert glass_url(patient) in body
    assert f'href="{detail_url(patient)}"' not in body
    row = AccessRecord.objects.get(patient_id=patient.public_id)
    assert (row.category, row.purpose, row.view) == (
        "demographics",
        Purpose.BREAK_GLASS,
        "patients:list",
    )


def test_reception_search_never_offers_emergency_access(patient):
    reception = make_actor(Role.RECEPTIONIST)
    body = client_for(reception).get(reverse("patients:list"), {"q": patient.mrn}).content.decode()
    assert detail_url(patient) in body
    assert "Request emergency access" not in body


def test_opening_break_glass_grants_time_limited_access(doctor, patient):
    client = client_for(doctor)
    page = client.get(glass_url(patient))
    assert page.status_code == 200
    assert "shown to the patient" in page.content.decode()

    response = client.post(glass_url(patient), {"reason": REASON})
    assert response.status_code == 302
    assert response["Location"] == detail_url(patient)
    grant = BreakGlassGrant.objects.get(user=doctor, patient=patient)
    assert grant.expires_at - grant.created_at == pytest.approx(
        timedelta(minutes=settings.BREAK_GLASS_MINUTES), abs=timedelta(seconds=5)
    )
    event = Event.objects.get(name="patient.break_glass_opened")
    assert event.priority == Priority.HIGH
    assert event.patient_id == patient.public_id

    detail = client.get(detail_url(patient))
    assert detail.status_code == 200
    assert "Emergency access until" in detail.content.decode()
    rows = AccessRecord.objects.filter(patient_id=patient.public_id, actor_id=doctor.public_id)
    assert set(rows.values_list("purpose", flat=True)) == {Purpose.BREAK_GLASS}
    assert {"demographics", "consents", "care_team"} <= set(rows.values_list("category", flat=True))

    later = timezone.now() + timedelta(minutes=settings.BREAK_GLASS_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        # A fresh sign-in: the old session would have timed out anyway.
        assert client_for(doctor).get(detail_url(patient)).status_code == 404


def test_short_reason_is_a_form_error(doctor, patient):
    response = client_for(doctor).post(glass_url(patient), {"reason": "urgent"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_reason_error"' in body
    assert not BreakGlassGrant.objects.exists()


def test_break_glass_on_unknown_record_is_not_found(doctor):
    url = reverse(
        "patients:break_glass", kwargs={"public_id": "5b0c1d9e-8f04-4c9a-9d0e-7b1f2a3c4d5e"}
    )
    client = client_for(doctor)
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": REASON}).status_code == 404


def test_clinician_already_in_care_is_sent_to_the_record(doctor, patient):
    relate(doctor.practitioner, patient)
    response = client_for(doctor).get(glass_url(patient))
    assert response.status_code == 302
    assert response["Location"] == detail_url(patient)


def test_patient_sees_break_glass_on_their_page(doctor, patient):
    client_for(doctor).post(glass_url(patient), {"reason": REASON})
    body = client_for(patient.user).get(reverse("patients:me")).content.decode()
    assert REASON in body
    assert doctor.get_full_name() in body
    assert "Emergency access in the last 30 days" in body


def test_old_break_glass_is_not_listed_for_the_patient(doctor, patient):
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        BreakGlassGrant.objects.create(
            user=doctor,
            patient=patient,
            reason=REASON,
            expires_at=timezone.now() + timedelta(hours=1),
        )
    body = client_for(patient.user).get(reverse("patients:me")).content.decode()
    assert REASON not in body
    assert "No one has used emergency access" in body


def test_clinician_home_lists_patients_and_open_grants(doctor, patient):
    mine = PatientFactory()
    relate(doctor.practitioner, mine)
    client = client_for(doctor)
    client.post(glass_url(patient), {"reason": REASON})
    body = client.get(reverse("patients:my_patients")).content.decode()
    assert mine.mrn in body
    assert patient.mrn in body and REASON in body
    assert doctor.practitioner.display_name in body

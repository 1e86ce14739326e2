"""The patient's own record page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from carehub.accounts.tests.factories import give_totp
from carehub.audit.choices import Purpose
from carehub.audit.models import AccessRecord
from carehub.core.testing.contracts import client_for
from carehub.directory.tests.factories import make_practitioner
from carehub.patients.models import Consent
from carehub.patients.tests.factories import make_patient_user, relate

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    return make_patient_user(
        emergency_contact_name="Grace Hopper", emergency_contact_phone="+44 7700 900777"
    )


def test_shows_own_record_with_security_and_access_links(patient):
    doctor = make_practitioner()
    relate(doctor, patient)
    body = client_for(patient.user).get(reverse("patients:me")).content.decode()
    assert patient.mrn in body
    assert patient.site.name in body
    assert "Grace Hopper" in body
    assert doctor.display_name in body
    assert reverse("audit:my_access") in body
    assert "Who has viewed my record" in body
    assert reverse("mfa_index") in body
    assert reverse("patients:me_details") in body
    assert reverse("patients:me_consents") in body
    assert "Two-factor authentication is not set up" in body
    assert body.count("<h1") == 1
    assert "style=" not in body
    assert "<script>" not in body

    rows = AccessRecord.objects.filter(patient_id=patient.public_id)
    assert sorted(rows.values_list("category", flat=True)) == [
        "care_team",
        "consents",
        "demographics",
    ]
    assert set(rows.values_list("purpose", flat=True)) == {Purpose.SELF}


def test_security_card_shows_mfa_on(patient):
    give_totp(patient.user)
    body = client_for(patient.user).get(reverse("patients:me")).content.decode()
    assert "Two-factor authentication protects your account" in body


def test_patient_updates_contact_details(patient):
    client = client_for(patient.user)
    response = client.post(
        reverse("patients:me_details"),
        {
            "phone": "+44 7700 900888",
            "preferred_language": "fr",
            "reminder_channel": "sms",
            "country": "fr",
            "family_name": "Hacked",
        },
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (
        patient.phone,
        patient.preferred_language,
        patient.reminder_channel,
        patient.country,
    ) == ("+44 7700 900888", "fr", "sms", "FR")
    assert patient.family_name != "Hacked"  # not a self-service field: ignored by the form


def test_invalid_details_show_errors(patient):
    response = client_for(patient.user).post(
        reverse("patients:me_details"),
        {
            "country": "France",
            "preferred_language": "en",
            "reminder_channel": "carrier-pigeon",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_country_error"' in body
    assert 'id="id_reminder_channel_error"' in body


def test_consent_toggles(patient):
    client = client_for(patient.user)
    client.post(reverse("patients:me_consents"), {"email": "on", "research": "on"})
    assert dict(Consent.objects.filter(patient=patient).values_list("kind", "granted")) == {
        "email": True,
        "research": True,
    }
    client.post(reverse("patients:me_consents"), {"email": "on"})
    assert dict(Consent.objects.filter(patient=patient).values_list("kind", "granted")) == {
        "email": True,
        "research": False,
    }


def test_details_page_shows_current_values_and_is_logged(patient):
    patient.phone = "+44 7700 900123"
    patient.save(update_fields=["phone"])
    body = client_for(patient.user).get(reverse("patients:me_details")).content.decode()
    assert 'value="+44 7700 900123"' in body
    assert 'value="Grace Hopper"' in body
    rows = AccessRecord.objects.filter(patient_id=patient.public_id)
    assert list(rows.values_list("category", "purpose")) == [("demographics", Purpose.SELF)]


def test_home_page_only_reads(patient):
    response = client_for(patient.user).post(reverse("patients:me"), {"phone": "+44 7700 900888"})
    assert response.status_code == 405
    patient.refresh_from_db()
    assert patient.phone != "+44 7700 900888"


def test_consents_page_ticks_given_consents(patient):
    Consent.objects.create(patient=patient, kind="research", granted=True)
    Consent.objects.create(patient=patient, kind="email", granted=False)
    body = client_for(patient.user).get(reverse("patients:me_consents")).content.decode()
    assert 'name="research" id="id_research" checked' in body
    assert 'name="email" id="id_email" checked' not in body
    rows = AccessRecord.objects.filter(patient_id=patient.public_id)
    assert list(rows.values_list("category", flat=True)) == ["consents"]


def test_home_page_lists_consent_answers(patient):
    Consent.objects.create(patient=patient, kind="research", granted=False)
    body = client_for(patient.user).get(reverse("patients:me")).content.decode()
    assert "Refused" in body
    assert "Not answered" in body

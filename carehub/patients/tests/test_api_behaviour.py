"""Patient API behaviour beyond the access contract."""

from __future__ import annotations

import pytest
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.testing.contracts import client_for
from carehub.directory.tests.factories import SiteFactory
from carehub.patients.models import Patient
from carehub.patients.tests.factories import PatientFactory, make_patient_user

pytestmark = pytest.mark.django_db


def detail(patient):
    return reverse("api-patients-detail", kwargs={"public_id": patient.public_id})


def is_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return response.json()


def test_patient_may_patch_phone_but_not_family_name():
    patient = make_patient_user()
    client = client_for(patient.user, api=True)

    body = is_problem(client.patch(detail(patient), {"family_name": "Other"}, format="json"), 403)
    assert "family_name" in body["detail"]
    patient.refresh_from_db()
    assert patient.family_name != "Other"

    response = client.patch(detail(patient), {"phone": "+44 7700 900432"}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == "+44 7700 900432"
    patient.refresh_from_db()
    assert patient.phone == "+44 7700 900432"


def test_patch_cannot_change_mrn_or_site():
    reception = make_user(Role.RECEPTIONIST)
    patient = PatientFactory()
    client = client_for(reception, api=True)
    body = is_problem(
        client.patch(
            detail(patient), {"mrn": "X-1", "site": str(SiteFactory().public_id)}, format="json"
        ),
        400,
    )
    assert set(body["errors"]) == {"mrn", "site"}


def test_create_with_missing_fields_is_a_problem_with_field_errors():
    reception = make_user(Role.RECEPTIONIST)
    body = is_problem(
        client_for(reception, api=True).post(reverse("api-patients-list"), {}, format="json"), 400
    )
    assert {"given_name", "family_name", "birth_date", "site"} <= set(body["errors"])


def test_create_rejects_a_future_birth_date():
    reception = make_user(Role.RECEPTIONIST)
    body = is_problem(
        client_for(reception, api=True).post(
            reverse("api-patients-list"),
            {
                "given_name": "A",
                "family_name": "B",
                "birth_date": "2999-01-01",
                "site": str(SiteFactory().public_id),
            },
            format="json",
        ),
        400,
    )
    assert "birth_date" in body["errors"]


def test_national_id_is_written_but_never_returned():
    reception = make_user(Role.RECEPTIONIST)
    client = client_for(reception, api=True)
    site = SiteFactory(code="east")
    response = client.post(
        reverse("api-patients-list"),
        {
            "given_name": "Grace",
            "family_name": "Hopper",
            "birth_date": "1976-12-09",
            "site": str(site.public_id),
            "national_id": "QQ123456C",
        },
        format="json",
    )
    assert response.status_code == 201
    data = response.json()
    assert "national_id" not in data
    assert data["mrn"] == "EAST-000001"
    assert data["site"] == str(site.public_id)
    assert data["possible_duplicates"] == 0
    patient = Patient.objects.get(public_id=data["id"])
    assert patient.national_id == "QQ123456C"
    again = client.get(detail(patient))
    assert "national_id" not in again.json()
    assert b"QQ123456C" not in again.content


def test_malformed_and_unknown_ids_are_not_found():
    reception = make_user(Role.RECEPTIONIST)
    client = client_for(reception, api=True)
    is_problem(client.get("/api/v1/patients/not-a-uuid/"), 404)
    is_problem(client.get("/api/v1/patients/5b0c1d9e-8f04-4c9a-9d0e-7b1f2a3c4d5e/"), 404)


def test_list_is_paginated_and_searchable():
    reception = make_user(Role.RECEPTIONIST)
    PatientFactory.create_batch(3, family_name="Fernsby")
    PatientFactory(family_name="Other")
    client = client_for(reception, api=True)
    body = client.get(reverse("api-patients-list"), {"q": "fernsby"}).json()
    assert body["count"] == 3
    assert body["next"] is None
    assert {r["family_name"] for r in body["results"]} == {"Fernsby"}
    is_problem(client.get(reverse("api-patients-list"), {"page": 99}), 404)
    is_problem(client.get(reverse("api-patients-list"), {"page": "x"}), 404)


def test_clinician_list_shows_only_their_patients():
    from carehub.core.testing.contracts import make_actor
    from carehub.patients.tests.factories import relate

    doctor = make_actor(Role.DOCTOR)
    mine, other = PatientFactory(family_name="Mine"), PatientFactory(family_name="Other")
    relate(doctor.practitioner, mine)
    body = client_for(doctor, api=True).get(reverse("api-patients-list")).json()
    assert [r["id"] for r in body["results"]] == [str(mine.public_id)]
    assert str(other.public_id) not in str(body)


def test_me_returns_own_record():
    patient = make_patient_user()
    data = client_for(patient.user, api=True).get(reverse("api-patients-me")).json()
    assert data["id"] == str(patient.public_id)
    assert data["mrn"] == patient.mrn


def test_patch_of_a_merged_record_is_a_conflict():
    from carehub.patients import services

    admin = make_user(Role.CLINIC_ADMIN)
    survivor = PatientFactory()
    duplicate = PatientFactory(birth_date=survivor.birth_date)
    services.patient_merge(actor=admin, survivor=survivor, duplicate=duplicate)
    response = client_for(admin, api=True).patch(detail(duplicate), {"phone": "1"}, format="json")
    is_problem(response, 409)

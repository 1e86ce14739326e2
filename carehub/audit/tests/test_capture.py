"""Saving a registered model appends a before/after change row; secrets never appear in clear."""

from __future__ import annotations

import pytest
from django.db import connection

from carehub.audit.choices import ChangeAction
from carehub.audit.models import ChangeRecord
from carehub.patients.tests.factories import PatientFactory


def _rows(patient):
    return ChangeRecord.objects.filter(
        model="patients.patient", object_id=str(patient.public_id)
    ).order_by("seq")


@pytest.mark.django_db
def test_creating_a_patient_writes_a_create_row_with_its_public_id():
    patient = PatientFactory(given_name="Ada")

    [row] = _rows(patient)

    assert row.action == ChangeAction.CREATE
    assert row.patient_id == patient.public_id
    assert row.before is None
    assert row.after["given_name"] == "Ada"
    assert "updated_at" not in row.after


@pytest.mark.django_db
def test_an_update_records_only_the_changed_fields():
    patient = PatientFactory(city="Leeds", phone="+44 7700 900001")
    patient.city = "York"
    patient.save()

    row = _rows(patient).last()

    assert row.action == ChangeAction.UPDATE
    assert row.before == {"city": "Leeds"}
    assert row.after == {"city": "York"}


@pytest.mark.django_db
def test_saving_without_a_change_writes_no_row():
    patient = PatientFactory()
    count = _rows(patient).count()

    patient.save()

    assert _rows(patient).count() == count


def _stored_json(patient) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT before, after FROM audit_changerecord WHERE object_id = %s",
            [str(patient.public_id)],
        )
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


@pytest.mark.django_db
def test_the_encrypted_national_id_never_appears_in_clear():
    patient = PatientFactory(national_id="AB123456C")
    patient.national_id = "ZZ987654A"
    patient.save()

    stored = _stored_json(patient)

    assert "AB123456C" not in stored
    assert "ZZ987654A" not in stored
    update = _rows(patient).last()
    assert set(update.after) == {"national_id"}
    assert update.after["national_id"].startswith("encrypted:")
    assert update.before["national_id"] != update.after["national_id"]

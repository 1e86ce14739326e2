"""Health records: who may read and write (care relationship, own record, break-glass),
amendments that keep every version, encryption at rest, prescribing warnings, the summary API."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from rest_framework.test import APIClient

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord
from carehub.core.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from carehub.directory.tests.factories import make_practitioner
from carehub.patients import services as patient_services
from carehub.patients.tests.factories import PatientFactory
from carehub.records import selectors, services
from carehub.records.choices import EntryStatus, Interpretation
from carehub.records.models import Amendment, ClinicalNote, MedicationRequest

pytestmark = pytest.mark.django_db


def test_a_doctor_in_the_patients_care_writes_and_reads_the_chart(doctor, patient):
    actor = doctor.user
    pid = patient.public_id
    encounter = services.encounter_open(actor=actor, patient_public_id=pid, mode="in_person")
    services.note_write(actor=actor, encounter=encounter, subjective="Cough for a week")
    services.condition_add(actor=actor, patient_public_id=pid, code="I10")
    services.allergy_add(actor=actor, patient_public_id=pid, substance="Penicillin")
    services.observation_record(actor=actor, patient_public_id=pid, code="8480-6", value=162)
    services.prescription_issue(
        actor=actor, patient_public_id=pid, drug="Amlodipine", strength="5 mg", dose="1 tablet",
        times=["08:00"], duration_days=28,
    )  # fmt: skip
    summary = selectors.patient_summary(actor=actor, public_id=pid)
    assert [c.display for c in summary.problems] == ["Essential (primary) hypertension"]
    assert [a.substance for a in summary.allergies] == ["Penicillin"]
    assert [m.drug for m in summary.medications] == ["Amlodipine"]
    systolic = next(t for t in summary.vitals if t.code == "8480-6")
    assert systolic.latest.interpretation == Interpretation.HIGH
    assert summary.encounters == [encounter]
    categories = set(
        AccessRecord.objects.filter(actor_id=actor.public_id).values_list("category", flat=True)
    )
    assert {"problems", "allergies", "medications", "observations", "encounters"} <= categories


def test_a_doctor_without_a_care_relationship_gets_nothing_until_break_glass(patient):
    stranger = make_practitioner()
    with pytest.raises(NotFound):
        selectors.patient_summary(actor=stranger.user, public_id=patient.public_id)
    with pytest.raises(NotFound):
        services.allergy_add(
            actor=stranger.user, patient_public_id=patient.public_id, substance="Latex"
        )
    patient_services.break_glass_open(
        actor=stranger.user, patient_public_id=patient.public_id, reason="Unconscious in ED"
    )
    summary = selectors.patient_summary(actor=stranger.user, public_id=patient.public_id)
    assert summary.patient == patient
    assert AccessRecord.objects.filter(
        actor_id=stranger.user.public_id, category="problems", purpose="break_glass"
    ).exists()


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.CLINIC_ADMIN, Role.AUDITOR])
def test_non_clinical_staff_never_read_or_write_clinical_records(patient, role):
    actor = make_user(role)
    with pytest.raises(Forbidden):
        selectors.patient_summary(actor=actor, public_id=patient.public_id)
    with pytest.raises(Forbidden):
        services.allergy_add(actor=actor, patient_public_id=patient.public_id, substance="Latex")


def test_a_patient_reads_their_own_summary_only(doctor, patient):
    services.allergy_add(actor=doctor.user, patient_public_id=patient.public_id, substance="Nuts")
    mine = selectors.patient_summary(actor=patient.user, public_id=patient.public_id)
    assert [a.substance for a in mine.allergies] == ["Nuts"]
    other = PatientFactory.create()
    with pytest.raises(NotFound):
        selectors.patient_summary(actor=patient.user, public_id=other.public_id)
    with pytest.raises(Forbidden):
        services.allergy_add(actor=patient.user, patient_public_id=patient.public_id, substance="X")


def test_amendments_keep_every_version_with_who_and_why(doctor, patient):
    actor = doctor.user
    encounter = services.encounter_open(
        actor=actor, patient_public_id=patient.public_id, mode="video"
    )
    note = services.note_write(actor=actor, encounter=encounter, assessment="Viral URTI")
    note = services.entry_amend(
        actor=actor, entry=note, changes={"assessment": "Community-acquired pneumonia"},
        reason="Chest X-ray result",
    )  # fmt: skip
    assert note.version == 2 and note.assessment == "Community-acquired pneumonia"
    history = selectors.entry_history(actor=actor, entry=note)
    assert [v.version for v in history] == [2, 1]
    assert history[1].values["assessment"] == "Viral URTI"
    assert history[1].reason == "Chest X-ray result"
    assert history[1].changed_by == actor
    note = services.entry_mark_entered_in_error(actor=actor, entry=note, reason="Wrong patient")
    assert note.status == EntryStatus.ENTERED_IN_ERROR
    assert ClinicalNote.objects.filter(pk=note.pk).exists()  # never deleted
    assert Amendment.objects.filter(entry_id=note.public_id).count() == 2
    with pytest.raises(Conflict):
        services.entry_amend(actor=actor, entry=note, changes={"plan": "x"}, reason="late")


def test_an_amendment_needs_a_reason_and_amendable_fields(doctor, patient):
    allergy = services.allergy_add(
        actor=doctor.user, patient_public_id=patient.public_id, substance="Latex"
    )
    with pytest.raises(ValidationFailed):
        services.entry_amend(
            actor=doctor.user, entry=allergy, changes={"substance": "X"}, reason=" "
        )
    with pytest.raises(ValidationFailed):
        services.entry_amend(
            actor=doctor.user, entry=allergy, changes={"patient_id": 1}, reason="move"
        )
    assert not Amendment.objects.exists()


def test_clinical_text_is_encrypted_at_rest(doctor, patient):
    encounter = services.encounter_open(
        actor=doctor.user, patient_public_id=patient.public_id, mode="in_person"
    )
    services.note_write(actor=doctor.user, encounter=encounter, plan="Refer to oncology clinic")
    with connection.cursor() as cursor:
        cursor.execute("SELECT plan FROM records_clinicalnote")
        (stored,) = cursor.fetchone()
    assert "oncology" not in stored


def test_prescribing_warns_about_allergies_and_duplicate_therapy(doctor, patient):
    pid = patient.public_id
    services.allergy_add(
        actor=doctor.user, patient_public_id=pid, substance="Penicillin", criticality="high"
    )
    with pytest.raises(Conflict) as refused:
        services.prescription_issue(
            actor=doctor.user, patient_public_id=pid, drug="Amoxicillin", strength="500 mg",
            dose="1 capsule", times=["08:00", "14:00", "20:00"], duration_days=5,
        )  # fmt: skip
    assert refused.value.extra["warnings"][0]["kind"] == "allergy"
    services.prescription_issue(
        actor=doctor.user, patient_public_id=pid, drug="Ibuprofen", strength="400 mg",
        dose="1 tablet", times=["08:00"], duration_days=7,
    )  # fmt: skip
    with pytest.raises(Conflict) as duplicate:
        services.prescription_issue(
            actor=doctor.user, patient_public_id=pid, drug="Naproxen", strength="250 mg",
            dose="1 tablet", times=["08:00"], duration_days=7,
        )  # fmt: skip
    assert duplicate.value.extra["warnings"][0]["kind"] == "duplicate"
    rx = services.prescription_issue(
        actor=doctor.user, patient_public_id=pid, drug="Naproxen", strength="250 mg",
        dose="1 tablet", times=["08:00"], duration_days=7, acknowledge_warnings=True,
    )  # fmt: skip
    assert rx.pk


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"duration_days": "seven"}, "duration_days"),
        ({"duration_days": 0}, "duration_days"),
        ({"refills": -1}, "refills"),
        ({"times": "08:00"}, "times"),
        ({"times": ["8am"]}, "times"),
        ({"drug": "  "}, "drug"),
    ],
)
def test_bad_prescriptions_are_refused_with_the_field(doctor, patient, changes, field):
    fields = {"drug": "Amlodipine", "strength": "5 mg", "dose": "1 tablet", "times": ["08:00"],
              "duration_days": 28, **changes}  # fmt: skip
    with pytest.raises(ValidationFailed) as err:
        services.prescription_issue(
            actor=doctor.user, patient_public_id=patient.public_id, **fields
        )
    assert field in err.value.field_errors
    assert not MedicationRequest.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "8480-6", "value": "abc"}, "value"),
        ({"code": "8480-6", "value": 900}, "value"),
        ({"code": "8480-6", "value": 120, "unit": "kPa"}, "unit"),
        ({"code": "0000-0", "value": 1}, "code"),
    ],
)
def test_bad_observations_are_refused_with_the_field(doctor, patient, kwargs, field):
    with pytest.raises(ValidationFailed) as err:
        services.observation_record(
            actor=doctor.user, patient_public_id=patient.public_id, **kwargs
        )
    assert field in err.value.field_errors


def test_unknown_icd10_code_is_refused(doctor, patient):
    with pytest.raises(ValidationFailed):
        services.condition_add(
            actor=doctor.user, patient_public_id=patient.public_id, code="X99.99"
        )


def test_summary_api_follows_the_same_policies(doctor, patient):
    services.observation_record(
        actor=doctor.user, patient_public_id=patient.public_id, code="8867-4", value=72,
        effective_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )  # fmt: skip
    api = APIClient()
    url = f"/api/v1/patients/{patient.public_id}/summary/"
    assert api.get(url).status_code == 401
    api.force_authenticate(doctor.user)
    body = api.get(url).json()
    assert body["vitals"][0]["code"] == "8867-4"
    api.force_authenticate(make_practitioner().user)
    r = api.get(url)
    assert r.status_code == 404
    assert r["Content-Type"].startswith("application/problem+json")
    api.force_authenticate(make_user(Role.RECEPTIONIST))
    assert api.get(url).status_code == 403

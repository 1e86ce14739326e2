"""Merging duplicate records and undoing a merge."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import Event
from carehub.core.exceptions import Conflict, Forbidden
from carehub.core.testing.contracts import client_for
from carehub.directory.tests.factories import make_practitioner
from carehub.patients import services
from carehub.patients.choices import ConsentKind, DuplicateStatus
from carehub.patients.models import BreakGlassGrant, CareRelationship, Consent, DuplicateCandidate
from carehub.patients.tests.factories import PatientFactory, make_patient_user, relate

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return make_user(Role.CLINIC_ADMIN)


@pytest.fixture
def pair():
    survivor = PatientFactory(given_name="John", family_name="Smith")
    duplicate = PatientFactory(
        given_name="Jon", family_name="Smith", birth_date=survivor.birth_date, site=survivor.site
    )
    candidate = DuplicateCandidate.objects.create(
        patient=duplicate, other=survivor, score=0.9, reasons=["same birth date", "similar name"]
    )
    return survivor, duplicate, candidate


def _rows_of(duplicate):
    doctor = make_practitioner()
    rel = relate(doctor, duplicate)
    consent = Consent.objects.create(patient=duplicate, kind=ConsentKind.SMS, granted=True)
    grant = BreakGlassGrant.objects.create(
        user=make_practitioner().user,
        patient=duplicate,
        reason="Emergency x",
        expires_at=timezone.now(),
    )
    return rel, consent, grant


def test_merge_repoints_rows_and_unmerge_restores_them(admin, pair):
    survivor, duplicate, candidate = pair
    rel, consent, grant = _rows_of(duplicate)

    services.patient_merge(actor=admin, survivor=survivor, duplicate=duplicate)

    for row in (rel, consent, grant):
        row.refresh_from_db()
        assert row.patient_id == survivor.pk
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == survivor.pk
    assert duplicate.is_active is False
    candidate.refresh_from_db()
    assert candidate.status == DuplicateStatus.MERGED
    event = Event.objects.get(name="patient.merged")
    assert event.patient_id == survivor.public_id
    assert event.data["duplicate"] == str(duplicate.public_id)

    services.patient_unmerge(actor=admin, duplicate=duplicate)

    for row in (rel, consent, grant):
        row.refresh_from_db()
        assert row.patient_id == duplicate.pk
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    assert duplicate.is_active is True
    candidate.refresh_from_db()
    assert candidate.status == DuplicateStatus.OPEN  # back in the queue for a new decision
    assert Event.objects.filter(name="patient.unmerged", patient_id=duplicate.public_id).exists()


def test_merge_through_the_pages(admin, pair):
    survivor, duplicate, _ = pair
    rel, _, _ = _rows_of(duplicate)
    client = client_for(admin)

    page = client.get(reverse("patients:duplicates")).content.decode()
    assert f"Merge {duplicate.mrn} into {survivor.mrn}" in page
    assert "Not a duplicate" in page

    response = client.post(
        reverse("patients:merge"),
        {"survivor": str(survivor.public_id), "duplicate": str(duplicate.public_id)},
    )
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.patient_id == survivor.pk
    page = client.get(reverse("patients:duplicates")).content.decode()
    assert f"was merged into {survivor.mrn}" in page  # the success message
    assert f"Undo merge of {duplicate.mrn}" in page

    response = client.post(
        reverse("patients:unmerge", kwargs={"public_id": duplicate.public_id}), follow=True
    )
    assert "The merge was undone" in response.content.decode()
    rel.refresh_from_db()
    assert rel.patient_id == duplicate.pk


def test_dismiss_marks_the_pair_as_different_people(admin, pair):
    _, _, candidate = pair
    response = client_for(admin).post(
        reverse("patients:duplicate_dismiss", kwargs={"public_id": candidate.public_id}),
        follow=True,
    )
    assert "as different people" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == DuplicateStatus.DISMISSED


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.DOCTOR, Role.NURSE, Role.AUDITOR])
def test_merge_is_refused_for_non_administrators(role, pair):
    survivor, duplicate, _ = pair
    actor = (
        make_practitioner(role=role).user if role in (Role.DOCTOR, Role.NURSE) else make_user(role)
    )
    with pytest.raises(Forbidden):
        services.patient_merge(actor=actor, survivor=survivor, duplicate=duplicate)
    response = client_for(actor).post(
        reverse("patients:merge"),
        {"survivor": str(survivor.public_id), "duplicate": str(duplicate.public_id)},
    )
    assert response.status_code == 403
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_merge_is_refused_when_both_records_have_accounts(admin):
    survivor = make_patient_user()
    duplicate = make_patient_user(birth_date=survivor.birth_date)
    with pytest.raises(Conflict):
        services.patient_merge(actor=admin, survivor=survivor, duplicate=duplicate)
    response = client_for(admin).post(
        reverse("patients:merge"),
        {"survivor": str(survivor.public_id), "duplicate": str(duplicate.public_id)},
        follow=True,
    )
    assert "Both records have their own sign-in account" in response.content.decode()
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_merge_moves_the_account_when_only_the_duplicate_has_one(admin):
    survivor = PatientFactory()
    duplicate = make_patient_user(birth_date=survivor.birth_date)
    user = duplicate.user
    services.patient_merge(actor=admin, survivor=survivor, duplicate=duplicate)
    survivor.refresh_from_db()
    assert survivor.user_id == user.pk
    services.patient_unmerge(actor=admin, duplicate=duplicate)
    duplicate.refresh_from_db()
    survivor.refresh_from_db()
    assert duplicate.user_id == user.pk
    assert survivor.user_id is None


def test_merge_with_bad_ids_is_not_a_server_error(admin):
    client = client_for(admin)
    assert (
        client.post(reverse("patients:merge"), {"survivor": "x", "duplicate": "y"}).status_code
        == 302
    )
    response = client.post(
        reverse("patients:merge"),
        {
            "survivor": "5b0c1d9e-8f04-4c9a-9d0e-7b1f2a3c4d5e",
            "duplicate": "6b0c1d9e-8f04-4c9a-9d0e-7b1f2a3c4d5e",
        },
    )
    assert response.status_code == 404
    assert not CareRelationship.objects.exists()

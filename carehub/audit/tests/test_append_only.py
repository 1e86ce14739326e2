"""The audit tables refuse UPDATE and DELETE in the database itself, whatever the client."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord, ChangeRecord, Event
from carehub.audit.tests.factories import access_row, event_row
from carehub.patients.tests.factories import PatientFactory


@pytest.fixture
def rows():
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()  # also writes change rows
    return access_row(actor=doctor, patient_id=patient.public_id), event_row(actor=doctor)


def _refused(sql: str) -> None:
    # The savepoint keeps the test's transaction usable after the error (PostgreSQL aborts it).
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


@pytest.mark.django_db
def test_raw_sql_update_of_an_access_row_is_refused(rows):
    _refused("UPDATE audit_accessrecord SET category = 'x'")
    assert not AccessRecord.objects.filter(category="x").exists()


@pytest.mark.django_db
def test_raw_sql_delete_of_events_is_refused(rows):
    before = Event.objects.count()
    _refused("DELETE FROM audit_event")
    assert Event.objects.count() == before


@pytest.mark.django_db
def test_raw_sql_update_and_delete_of_change_rows_are_refused(rows):
    _refused("UPDATE audit_changerecord SET action = 'delete'")
    _refused("DELETE FROM audit_changerecord")
    assert ChangeRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("model", [AccessRecord, Event, ChangeRecord])
def test_orm_queryset_update_is_refused(rows, model):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.all().update(actor_label="someone-else@example.org")
    assert not model.objects.filter(actor_label="someone-else@example.org").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("model", [AccessRecord, Event, ChangeRecord])
def test_orm_queryset_delete_is_refused(rows, model):
    before = model.objects.count()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.all().delete()
    assert model.objects.count() == before


@pytest.mark.django_db
def test_saving_or_deleting_one_loaded_row_is_refused(rows):
    record = AccessRecord.objects.order_by("-seq").first()
    record.category = "x"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        record.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        record.delete()
    assert AccessRecord.objects.filter(seq=record.seq).exclude(category="x").exists()


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="TRUNCATE triggers exist on PostgreSQL only"
)
def test_truncate_is_refused_on_postgresql(rows):
    _refused("TRUNCATE audit_event")

"""CSV exports: same filters as the pages, streamed, and recorded as an `audit.exported` event."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.choices import AccessCategory, Priority, Purpose
from carehub.audit.models import AccessRecord, Event
from carehub.audit.tests.factories import access_row, event_row
from carehub.core.testing.contracts import client_for
from carehub.patients.tests.factories import PatientFactory


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def auditor():
    return make_user(Role.AUDITOR)


@pytest.mark.django_db
def test_access_export_contains_the_filtered_rows_with_a_header(auditor):
    doctor = make_user(Role.DOCTOR, email="dr.ünal@example.org")
    patient, other = PatientFactory(), PatientFactory()
    wanted = access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)
    access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.CARE)
    access_row(actor=doctor, patient_id=other.public_id, purpose=Purpose.BREAK_GLASS)

    response = client_for(auditor).get(
        reverse("audit:report_csv"), {"patient": str(patient.public_id), "purpose": "break_glass"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="carehub-audit-access-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = _csv(response)
    assert [r["seq"] for r in rows] == [str(wanted.seq)]
    assert rows[0]["actor_email"] == "dr.ünal@example.org"
    assert rows[0]["patient_id"] == str(patient.public_id)
    assert rows[0]["purpose"] == "break_glass"
    assert rows[0]["time_utc"].endswith("Z")


@pytest.mark.django_db
def test_export_records_an_audit_exported_event_with_the_filters(auditor):
    patient = PatientFactory()

    client_for(auditor).get(
        reverse("audit:report_csv"),
        {
            "patient": str(patient.public_id),
            "from": "2030-01-01",
            "category": "demographics",
            "sort": "user",
        },
    )

    event = Event.objects.filter(name="audit.exported").get()
    assert event.actor_id == auditor.public_id
    assert event.patient_id == patient.public_id
    assert event.data == {
        "export": "access",
        "filters": {
            "patient": str(patient.public_id),
            "from": "2030-01-01",
            "category": "demographics",
            "sort": "user",
        },
    }
    # Exporting one patient's trail is a read of that patient's trail.
    logged = AccessRecord.objects.order_by("-seq").first()
    assert (logged.patient_id, logged.category, logged.view) == (
        patient.public_id,
        AccessCategory.AUDIT,
        "audit:report_csv",
    )


@pytest.mark.django_db
def test_events_export_contains_the_filtered_events(auditor):
    event_row(name="user.locked_out", priority=Priority.HIGH, data={"note": '=HYPERLINK("x")'})
    event_row(name="user.logged_in")

    response = client_for(auditor).get(reverse("audit:events_csv"), {"priority": "high"})

    rows = _csv(response)
    assert [r["name"] for r in rows] == ["user.locked_out"]
    assert rows[0]["data"] == '{"note": "=HYPERLINK(\\"x\\")"}'
    assert Event.objects.filter(name="audit.exported", data__export="events").exists()


@pytest.mark.django_db
def test_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(auditor):
    attacker = make_user(Role.RECEPTIONIST, email="=cmd@example.org")
    access_row(actor=attacker, patient_id=PatientFactory().public_id)

    rows = _csv(client_for(auditor).get(reverse("audit:report_csv"), {"user": "cmd"}))

    assert rows[0]["actor_email"] == "'=cmd@example.org"


@pytest.mark.django_db
def test_export_with_bad_filters_sends_back_to_the_page_with_errors_and_records_nothing(auditor):
    response = client_for(auditor).get(
        reverse("audit:report_csv"), {"from": "not-a-date"}, follow=True
    )

    assert response.status_code == 200
    assert response.redirect_chain[0][0] == reverse("audit:report") + "?from=not-a-date"
    assert "from" in response.context["form"].errors
    assert not Event.objects.filter(name="audit.exported").exists()


@pytest.mark.django_db
def test_export_streams_more_rows_than_a_page(auditor):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    from carehub.audit import services

    services.access_record(
        actor=doctor,
        patient_ids=[PatientFactory().public_id for _ in range(120)],
        category="demographics",
    )
    access_row(actor=doctor, patient_id=patient.public_id)

    rows = _csv(client_for(auditor).get(reverse("audit:report_csv"), {"category": "demographics"}))

    assert len(rows) == 121
    assert [int(r["seq"]) for r in rows] == sorted((int(r["seq"]) for r in rows), reverse=True)

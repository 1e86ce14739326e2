"""The audit pages: who may open them, what they show, and that reading a patient's trail is
itself recorded."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.choices import AccessCategory, Priority, Purpose
from carehub.audit.models import AccessRecord
from carehub.audit.tests.factories import access_row, event_row
from carehub.core.testing.contracts import PageContract, client_for, make_actor
from carehub.patients.tests.factories import PatientFactory, make_patient_user


class TestAccessReportPage(PageContract):
    url_name = "audit:report"
    allowed_roles = (Role.AUDITOR,)


class TestAccessReportForOnePatient(PageContract):
    """An auditor filtering the report by patient reads that patient's trail: one `audit` row."""

    url_name = "audit:report"
    allowed_roles = (Role.AUDITOR,)
    expected_access = (AccessCategory.AUDIT,)

    def make_target(self):
        return PatientFactory()

    def data(self, target):
        return {"patient": str(target.public_id)}


class TestAccessReportCsv(PageContract):
    url_name = "audit:report_csv"
    allowed_roles = (Role.AUDITOR,)
    expected_events = ("audit.exported",)


class TestEventsPage(PageContract):
    url_name = "audit:events"
    allowed_roles = (Role.AUDITOR,)


class TestEventsCsv(PageContract):
    url_name = "audit:events_csv"
    allowed_roles = (Role.AUDITOR,)
    expected_events = ("audit.exported",)


class TestChangesPage(PageContract):
    url_name = "audit:changes"
    allowed_roles = (Role.AUDITOR,)


class TestMyAccessPage(PageContract):
    url_name = "audit:my_access"
    allowed_roles = (Role.PATIENT,)


@pytest.fixture
def auditor():
    return make_actor(Role.AUDITOR)


@pytest.fixture
def doctor():
    return make_actor(Role.DOCTOR)


# --- access report ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_report_lists_access_rows_with_user_patient_and_break_glass_badge(auditor, doctor):
    patient = PatientFactory()
    access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)

    response = client_for(auditor).get(reverse("audit:report"))

    assert response.status_code == 200
    html = response.content.decode()
    assert doctor.email in html
    assert "Doctor" in html
    assert str(patient.public_id)[:8] in html
    assert 'class="badge badge-high">Break-glass (emergency access)' in html
    assert html.count("<h1") == 1
    assert "style=" not in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_report_without_patient_filter_writes_no_access_row(auditor, doctor):
    access_row(actor=doctor, patient_id=PatientFactory().public_id)
    before = AccessRecord.objects.count()

    client_for(auditor).get(reverse("audit:report"))

    assert AccessRecord.objects.count() == before


@pytest.mark.django_db
def test_report_filtered_by_patient_records_the_auditors_read(auditor, doctor):
    patient, other = PatientFactory(), PatientFactory()
    access_row(actor=doctor, patient_id=patient.public_id)
    access_row(actor=doctor, patient_id=other.public_id)

    response = client_for(auditor).get(reverse("audit:report"), {"patient": str(patient.public_id)})

    assert response.status_code == 200
    shown = {row.patient_id for row in response.context["page_obj"].object_list}
    assert shown == {patient.public_id}
    logged = AccessRecord.objects.order_by("-seq").first()
    assert logged.patient_id == patient.public_id
    assert logged.category == AccessCategory.AUDIT
    assert logged.actor_id == auditor.public_id
    assert logged.purpose == Purpose.ADMINISTRATION
    assert logged.view == "audit:report"


@pytest.mark.django_db
def test_report_filters_by_user_email_fragment_and_purpose(auditor, doctor):
    nurse = make_actor(Role.NURSE)
    patient = PatientFactory()
    wanted = access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)
    access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.CARE)
    access_row(actor=nurse, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)

    response = client_for(auditor).get(
        reverse("audit:report"),
        {"user": doctor.email.split("@")[0].upper(), "purpose": "break_glass"},
    )

    assert [row.seq for row in response.context["page_obj"].object_list] == [wanted.seq]


@pytest.mark.django_db
def test_report_filters_by_actor_public_id_and_category(auditor, doctor):
    patient = PatientFactory()
    wanted = access_row(
        actor=doctor, patient_id=patient.public_id, category=AccessCategory.CONSENTS
    )
    access_row(actor=doctor, patient_id=patient.public_id, category=AccessCategory.DEMOGRAPHICS)

    response = client_for(auditor).get(
        reverse("audit:report"), {"user": str(doctor.public_id), "category": "consents"}
    )

    assert [row.seq for row in response.context["page_obj"].object_list] == [wanted.seq]


@pytest.mark.django_db
def test_report_date_range_is_inclusive_in_utc(auditor, doctor):
    patient = PatientFactory()
    times = [
        datetime.datetime(2030, 3, 9, 23, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2030, 3, 10, 0, 0, 0, tzinfo=datetime.UTC),
        datetime.datetime(2030, 3, 10, 23, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2030, 3, 11, 0, 0, 0, tzinfo=datetime.UTC),
    ]
    rows = []
    for at in times:
        with time_machine.travel(at, tick=False):
            rows.append(access_row(actor=doctor, patient_id=patient.public_id))

    response = client_for(auditor).get(
        reverse("audit:report"), {"from": "2030-03-10", "to": "2030-03-10"}
    )

    assert sorted(row.seq for row in response.context["page_obj"].object_list) == [
        rows[1].seq,
        rows[2].seq,
    ]


@pytest.mark.django_db
def test_report_sorts_by_whitelisted_keys(auditor):
    patient = PatientFactory()
    zed = make_user(Role.RECEPTIONIST, email="zed@example.org")
    amy = make_user(Role.RECEPTIONIST, email="amy@example.org")
    first = access_row(actor=zed, patient_id=patient.public_id)
    second = access_row(actor=amy, patient_id=patient.public_id)
    client = client_for(auditor)

    newest = client.get(reverse("audit:report")).context["page_obj"].object_list
    by_user = client.get(reverse("audit:report"), {"sort": "user"}).context["page_obj"].object_list

    assert [r.seq for r in newest][:2] == [second.seq, first.seq]
    assert [r.actor_label for r in by_user][:2] == ["amy@example.org", "zed@example.org"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"from": "not-a-date"},
        {"sort": "DROP"},
        {"sort": "seq; DROP TABLE audit_event"},
        {"patient": "MRN-000001"},
        {"from": "2030-02-01", "to": "2030-01-01"},
        {"category": "nonsense", "purpose": "x"},
        {"from": "99999-01-01"},
        {"page": "last-but-one"},
        {"user": "x" * 1000},
    ],
)
def test_bad_filter_input_shows_form_errors_not_a_server_error(auditor, params):
    response = client_for(auditor).get(reverse("audit:report"), params)

    assert response.status_code == 200
    if "page" not in params:
        assert response.context["form"].errors
        assert 'class="errorlist' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["audit:events", "audit:changes"])
def test_bad_filter_input_on_events_and_changes_shows_form_errors(auditor, url_name):
    response = client_for(auditor).get(reverse(url_name), {"from": "not-a-date", "sort": "DROP"})

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"from", "sort"}


@pytest.mark.django_db
def test_report_paginates_50_per_page_and_keeps_filters_in_links(auditor, doctor):
    patient = PatientFactory()
    from carehub.audit import services

    services.access_record(actor=doctor, patient_ids=[patient.public_id], category="consents")
    for _ in range(55):
        access_row(actor=doctor, patient_id=patient.public_id)
    client = client_for(auditor)

    first = client.get(reverse("audit:report"), {"category": "demographics"})
    second = client.get(reverse("audit:report"), {"category": "demographics", "page": 2})

    assert len(first.context["page_obj"].object_list) == 50
    assert len(second.context["page_obj"].object_list) == 5
    assert "?category=demographics&amp;page=2" in first.content.decode()


# --- events and changes ---------------------------------------------------------------------
@pytest.mark.django_db
def test_events_page_highlights_high_priority_and_filters_by_name_prefix(auditor, doctor):
    patient = PatientFactory()
    event_row(
        actor=doctor,
        name="patient.break_glass_opened",
        patient_id=patient.public_id,
        priority=Priority.HIGH,
        data={"reason": "Unconscious in A&E"},
    )
    event_row(actor=doctor, name="user.logged_in")

    response = client_for(auditor).get(reverse("audit:events"), {"name": "patient."})

    rows = response.context["page_obj"].object_list
    assert [r.name for r in rows] == ["patient.break_glass_opened"]
    html = response.content.decode()
    assert 'class="badge badge-high">High' in html
    assert "Unconscious in A&amp;E" in html


@pytest.mark.django_db
def test_events_page_filters_by_priority(auditor):
    event_row(name="user.locked_out", priority=Priority.HIGH)
    event_row(name="user.login_failed")

    response = client_for(auditor).get(reverse("audit:events"), {"priority": "high"})

    assert {r.name for r in response.context["page_obj"].object_list} == {"user.locked_out"}


@pytest.mark.django_db
def test_changes_page_shows_before_and_after_of_an_update(auditor):
    patient = PatientFactory(phone="+44 7700 900001")
    patient.phone = "+44 7700 900999"
    patient.save()

    response = client_for(auditor).get(
        reverse("audit:changes"), {"patient": str(patient.public_id), "action": "update"}
    )

    rows = response.context["page_obj"].object_list
    assert len(rows) == 1
    assert rows[0].diff == [("phone", "+44 7700 900001", "+44 7700 900999")]
    assert "+44 7700 900001 → +44 7700 900999" in response.content.decode()


# --- the patient's page -------------------------------------------------------------------------
@pytest.mark.django_db
def test_patient_sees_who_viewed_their_record_and_the_break_glass_reason(doctor):
    patient = make_patient_user()
    other = PatientFactory()
    access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.CARE)
    event_row(
        actor=doctor,
        name="patient.break_glass_opened",
        patient_id=patient.public_id,
        priority=Priority.HIGH,
        data={"reason": "Brought in unconscious"},
    )
    access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)
    access_row(actor=doctor, patient_id=other.public_id, purpose=Purpose.CARE)
    access_row(actor=patient.user, patient_id=patient.public_id, purpose=Purpose.SELF)

    response = client_for(patient.user).get(reverse("audit:my_access"))

    assert response.status_code == 200
    rows = response.context["page_obj"].object_list
    assert {r.patient_id for r in rows} == {patient.public_id}
    assert [r.purpose for r in rows] == [
        Purpose.BREAK_GLASS,
        Purpose.CARE,
    ]  # newest first, own reads left out
    html = response.content.decode()
    assert "Emergency access (break-glass)" in html
    assert "Brought in unconscious" in html
    assert doctor.email in html
    assert "Doctor" in html


@pytest.mark.django_db
def test_break_glass_reason_comes_from_the_opening_before_the_read(doctor):
    patient = make_patient_user()
    event_row(
        actor=doctor,
        name="patient.break_glass_opened",
        patient_id=patient.public_id,
        priority=Priority.HIGH,
        data={"reason": "First emergency"},
    )
    first = access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)
    event_row(
        actor=doctor,
        name="patient.break_glass_opened",
        patient_id=patient.public_id,
        priority=Priority.HIGH,
        data={"reason": "Second emergency"},
    )
    second = access_row(actor=doctor, patient_id=patient.public_id, purpose=Purpose.BREAK_GLASS)

    rows = client_for(patient.user).get(reverse("audit:my_access")).context["page_obj"].object_list

    reasons = {r.seq: r.break_glass_reason for r in rows}
    assert reasons == {first.seq: "First emergency", second.seq: "Second emergency"}


@pytest.mark.django_db
def test_patient_viewing_own_access_log_is_not_logged(doctor):
    patient = make_patient_user()
    access_row(actor=doctor, patient_id=patient.public_id)
    before = AccessRecord.objects.count()

    client_for(patient.user).get(reverse("audit:my_access"))

    assert AccessRecord.objects.count() == before


@pytest.mark.django_db
def test_patient_cannot_open_the_auditor_report_even_for_their_own_record():
    patient = make_patient_user()

    response = client_for(patient.user).get(
        reverse("audit:report"), {"patient": str(patient.public_id)}
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_events_user_filter_by_public_id_finds_failed_sign_ins_about_that_account(auditor):
    from carehub.accounts import services as accounts

    target = make_user(Role.RECEPTIONIST)
    accounts.login_failure_record(email=target.email)
    event_row(name="user.login_failed", data={"known_account": False})

    response = client_for(auditor).get(reverse("audit:events"), {"user": str(target.public_id)})

    rows = response.context["page_obj"].object_list
    assert [(r.name, r.object_id) for r in rows] == [("user.login_failed", str(target.public_id))]


@pytest.mark.django_db
def test_changes_page_lists_only_filled_fields_of_a_created_record(auditor):
    patient = PatientFactory(address_line="", city="Leeds")

    response = client_for(auditor).get(
        reverse("audit:changes"), {"patient": str(patient.public_id), "action": "create"}
    )

    [row] = response.context["page_obj"].object_list
    names = [name for name, _, _ in row.diff]
    assert "city" in names
    assert "address_line" not in names


@pytest.mark.django_db
def test_patients_see_the_names_of_staff_who_viewed_their_record(client):
    from carehub.directory.tests.factories import make_practitioner
    from carehub.patients import selectors as patient_selectors
    from carehub.patients.tests.factories import make_patient_user, relate

    patient = make_patient_user()
    doctor = make_practitioner(first_name="Mark", last_name="Williamson")
    relate(doctor, patient)
    patient_selectors.patient_get(actor=doctor.user, public_id=patient.public_id)

    client.force_login(patient.user)
    html = client.get(reverse("audit:my_access")).content.decode()

    assert "Mark Williamson" in html

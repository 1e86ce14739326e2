"""Registration: duplicate detection, the duplicate check on the page, record numbers, and the
encrypted national id."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord
from carehub.core.testing.contracts import client_for, make_actor
from carehub.directory.tests.factories import SiteFactory
from carehub.patients import services
from carehub.patients.models import DuplicateCandidate, Patient
from carehub.patients.tests.factories import relate
from carehub.patients.tests.helpers import form_data, registration_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def reception():
    return make_user(Role.RECEPTIONIST)


@pytest.fixture
def site():
    return SiteFactory(code="north")


def register(actor, site, **data):
    return services.patient_register(actor=actor, site=site, **registration_data(site, **data))


class TestDuplicateDetection:
    def test_same_name_birth_date_and_phone_scores_one(self, reception, site):
        first = register(reception, site).patient
        second = register(reception, site, email="")
        assert [c.other for c in second.duplicates] == [first]
        candidate = second.duplicates[0]
        assert candidate.score == 1.0
        assert {"same birth date", "same name", "same phone"} <= set(candidate.reasons)

    def test_similar_name_with_same_birth_date_is_a_candidate(self, reception, site):
        first = register(reception, site).patient
        second = register(
            reception, site, given_name="Jon", family_name="Smyth", phone="", email=""
        )
        assert [c.other for c in second.duplicates] == [first]
        assert "similar name" in second.duplicates[0].reasons
        assert 0 < second.duplicates[0].score < 1

    def test_different_birth_date_is_not_a_candidate(self, reception, site):
        register(reception, site)
        second = register(reception, site, birth_date=datetime.date(1980, 5, 18))
        assert second.duplicates == []
        assert not DuplicateCandidate.objects.exists()


class TestRegisterPage:
    def test_possible_duplicates_are_shown_and_must_be_confirmed(self, reception, site):
        existing = register(
            reception,
            site,
            given_name="Ada",
            family_name="Lovelace",
            birth_date=datetime.date(1985, 12, 10),
            phone="+44 7700 900555",
        ).patient
        client = client_for(reception)
        url = reverse("patients:register")

        response = client.post(url, form_data(site))
        assert response.status_code == 200
        body = response.content.decode()
        assert existing.mrn in body
        assert "These are different people — register anyway" in body
        assert Patient.objects.count() == 1
        assert not DuplicateCandidate.objects.exists()  # the preview writes no candidate

        # Ticking the box without having been shown the matches is not enough.
        response = client.post(url, form_data(site, confirm_not_duplicate="on"))
        assert response.status_code == 200
        assert Patient.objects.count() == 1

        response = client.post(
            url, form_data(site, confirm_not_duplicate="on", seen_matches=str(existing.public_id))
        )
        assert response.status_code == 302
        new = Patient.objects.exclude(pk=existing.pk).get()
        assert response["Location"] == reverse(
            "patients:detail", kwargs={"public_id": new.public_id}
        )
        follow = client.get(response["Location"])
        assert "flagged for an administrator" in follow.content.decode()
        assert DuplicateCandidate.objects.filter(patient=new, other=existing).exists()

    def test_preview_logs_access_to_the_records_it_shows(self, reception, site):
        existing = register(
            reception,
            site,
            given_name="Ada",
            family_name="Lovelace",
            birth_date=datetime.date(1985, 12, 10),
        ).patient
        client_for(reception).post(reverse("patients:register"), form_data(site))
        row = AccessRecord.objects.get(patient_id=existing.public_id)
        assert (row.category, row.purpose, row.actor_id) == (
            "demographics",
            "administration",
            reception.public_id,
        )

    def test_no_match_registers_directly(self, reception, site):
        response = client_for(reception).post(reverse("patients:register"), form_data(site))
        assert response.status_code == 302
        assert Patient.objects.get().mrn == "NORTH-000001"

    def test_bad_input_shows_errors_tied_to_fields(self, reception, site):
        response = client_for(reception).post(
            reverse("patients:register"),
            {"birth_date": "not a date", "site": "nonsense", "country": "GBR"},
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert 'aria-invalid="true"' in body
        assert 'id="id_given_name_error"' in body
        assert 'aria-describedby="id_birth_date_error"' in body
        assert not Patient.objects.exists()

    def test_future_birth_date_is_a_form_error(self, reception, site):
        future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
        response = client_for(reception).post(
            reverse("patients:register"), form_data(site, birth_date=future)
        )
        assert response.status_code == 200
        assert "cannot be in the future" in response.content.decode()


class TestRecordNumbers:
    def test_mrn_is_per_site_and_sequential(self, reception, site):
        other_site = SiteFactory(code="south")
        a = register(reception, site).patient
        b = register(reception, site, given_name="Mary").patient
        c = register(reception, other_site, given_name="Anne").patient
        assert (a.mrn, b.mrn, c.mrn) == ("NORTH-000001", "NORTH-000002", "SOUTH-000001")


@pytest.mark.django_db(transaction=True)
def test_mrns_stay_unique_under_concurrent_registrations():
    if connection.vendor == "sqlite":
        pytest.skip("needs PostgreSQL: SQLite serialises every write transaction")
    reception = make_user(Role.RECEPTIONIST)
    site = SiteFactory(code="conc")
    workers, per_worker = 8, 5
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            for i in range(per_worker):
                services.patient_register(
                    actor=reception,
                    site=site,
                    given_name=f"Given{n}x{i}",
                    family_name=f"Family{n}x{i}",
                    birth_date=datetime.date(1970, 1, 1) + datetime.timedelta(days=n * 100 + i),
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    mrns = sorted(Patient.objects.filter(site=site).values_list("mrn", flat=True))
    assert mrns == [f"CONC-{i:06d}" for i in range(1, workers * per_worker + 1)]


class TestNationalId:
    PLAIN = "AB123456C"

    def test_stored_encrypted_and_shown_masked_to_reception_only(self, reception, site):
        patient = register(reception, site, national_id=self.PLAIN).patient
        with connection.cursor() as cursor:
            cursor.execute("SELECT national_id FROM patients_patient WHERE id = %s", [patient.pk])
            (raw,) = cursor.fetchone()
        assert self.PLAIN not in raw
        assert raw.startswith("ch1:")
        assert Patient.objects.get(pk=patient.pk).national_id == self.PLAIN

        url = reverse("patients:detail", kwargs={"public_id": patient.public_id})
        body = client_for(reception).get(url).content.decode()
        assert "•••••56C" in body
        assert self.PLAIN not in body
        rows = AccessRecord.objects.filter(
            patient_id=patient.public_id, actor_id=reception.public_id
        )
        assert "identifiers" in set(rows.values_list("category", flat=True))

        doctor = make_actor(Role.DOCTOR)
        relate(doctor.practitioner, patient)
        body = client_for(doctor).get(url).content.decode()
        assert "56C" not in body
        doctor_rows = AccessRecord.objects.filter(
            patient_id=patient.public_id, actor_id=doctor.public_id
        )
        assert "identifiers" not in set(doctor_rows.values_list("category", flat=True))

    def test_edit_form_never_sends_the_national_id_back(self, reception, site):
        patient = register(reception, site, national_id=self.PLAIN).patient
        url = reverse("patients:edit", kwargs={"public_id": patient.public_id})
        client = client_for(reception)
        assert self.PLAIN not in client.get(url).content.decode()
        # Saving with the field blank keeps it.
        data = form_data(site, given_name="John", family_name="Smith", birth_date="1980-05-17")
        assert client.post(url, data).status_code == 302
        patient.refresh_from_db()
        assert patient.national_id == self.PLAIN

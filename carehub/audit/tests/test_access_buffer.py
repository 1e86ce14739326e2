"""Access rows of one request are appended together, before the response leaves the server."""

import pytest
from django.urls import reverse

from carehub.audit import chain
from carehub.audit.models import AccessRecord
from carehub.patients.tests.factories import make_patient_user


@pytest.mark.django_db
def test_every_category_a_page_reads_is_logged_in_one_append(client, monkeypatch):
    patient = make_patient_user()
    client.force_login(patient.user)
    appends = []
    real_append = chain.append

    def counting_append(records):
        appends.append([r.category for r in records if isinstance(r, AccessRecord)])
        return real_append(records)

    monkeypatch.setattr(chain, "append", counting_append)
    response = client.get(reverse("patients:me"))

    assert response.status_code == 200
    access_appends = [a for a in appends if a]
    assert len(access_appends) == 1
    assert {"demographics", "consents", "care_team"} <= set(access_appends[0])
    rows = AccessRecord.objects.filter(patient_id=patient.public_id)
    logged = set(rows.values_list("category", flat=True))
    assert {"demographics", "consents", "care_team"} <= logged


@pytest.mark.django_db
def test_a_page_is_not_shown_when_its_reads_cannot_be_logged(client, monkeypatch):
    patient = make_patient_user()
    client.force_login(patient.user)

    def failing_append(records):
        if any(isinstance(r, AccessRecord) for r in records):
            raise RuntimeError("audit store unavailable")
        return records

    monkeypatch.setattr(chain, "append", failing_append)
    client.raise_request_exception = False
    response = client.get(reverse("patients:me"))

    assert response.status_code == 500
    assert patient.family_name not in response.content.decode()

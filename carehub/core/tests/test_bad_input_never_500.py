"""Malformed input to every write endpoint and filter gives a 4xx or a form error, never a 500."""

import pytest

from carehub.accounts.choices import Role
from carehub.core.testing.contracts import client_for, make_actor
from carehub.directory.tests.factories import SiteFactory
from carehub.patients.tests.factories import make_patient_user

BAD = [
    b"not json",
    b"[]",
    b'{"birth_date": "3000-99-99"}',
    b'{"given_name": null}',
    b'{"site": "x"}',
    b'{"birth_date": 5}',
]


@pytest.mark.django_db
def test_bad_inputs_never_500():
    SiteFactory()
    admin = make_actor(Role.CLINIC_ADMIN)
    api = client_for(admin, api=True)
    p = make_patient_user()
    for body in BAD:
        for method, url in [
            ("post", "/api/v1/patients/"),
            ("patch", f"/api/v1/patients/{p.public_id}/"),
            ("post", "/api/v1/auth/token/"),
            ("post", "/api/v1/auth/token/refresh/"),
        ]:
            r = getattr(api, method)(url, body, content_type="application/json")
            assert r.status_code < 500, (method, url, body, r.status_code, r.content[:200])
    web = client_for(admin)
    for url in [
        "/patients/register/",
        f"/patients/{p.public_id}/edit/",
        "/directory/practitioners/new/",
        "/directory/sites/new/",
        "/patients/duplicates/merge/",
        "/users/00000000-0000-0000-0000-000000000000/deactivate/",
    ]:
        r = web.post(
            url,
            {
                "birth_date": "3000-99-99",
                "timezone": "Mars/Base",
                "survivor": "x",
                "duplicate": "y",
            },
        )
        assert r.status_code < 500, (url, r.status_code)
    auditor = client_for(make_actor(Role.AUDITOR))
    for q in ["/audit/?from=x&sort=DROP", "/audit/export.csv?patient=zz", "/audit/events/?to=1e9"]:
        r = auditor.get(q)
        assert r.status_code < 500, (q, r.status_code)
    reception = client_for(make_actor(Role.RECEPTIONIST))
    for q in ["/patients/?q=%00", "/patients/?q=" + "x" * 500]:
        r = reception.get(q)
        assert r.status_code < 500, (q, r.status_code)

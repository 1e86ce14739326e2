"""`manage.py seed_demo`: a realistic demo clinic, generated credentials that work, and a second
run that creates nothing."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import time

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import authenticate
from django.core.management import call_command

from carehub.accounts.choices import STAFF_ROLES, Role
from carehub.accounts.models import User
from carehub.accounts.tests.factories import totp_code
from carehub.audit.models import ChangeRecord, Event
from carehub.core.management.commands.seed_demo import TOTP_NOTE
from carehub.directory.models import Practitioner, Site, Specialty
from carehub.patients.models import CareRelationship, DuplicateCandidate, Patient
from carehub.triage.models import TriageSession

STAFF_KEYS = ("admin", "auditor", "receptionist", "nurse")


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = (
        User,
        Patient,
        Practitioner,
        Site,
        CareRelationship,
        Event,
        ChangeRecord,
        Authenticator,
    )
    return {m.__name__: m.objects.count() for m in models}


@pytest.mark.django_db
def test_seed_demo_builds_the_clinic_and_writes_working_credentials(var_dir):
    started = time.monotonic()
    output = seed()
    assert time.monotonic() - started < 20
    path = var_dir / "demo-credentials.json"
    assert str(path) in output

    doctors = Practitioner.objects.filter(user__role=Role.DOCTOR)
    assert doctors.count() == 12
    assert Specialty.objects.filter(practitioners__in=doctors).distinct().count() >= 8
    assert set(Site.objects.values_list("code", flat=True)) == {"riv", "hmc"}
    assert Site.objects.values("timezone").distinct().count() == 2
    for site in Site.objects.all():
        assert site.departments.exists()
        assert doctors.filter(sites=site).exists()
    assert Patient.objects.count() == 50
    assert Patient.objects.filter(user__isnull=False).count() == 10
    assert Patient.objects.filter(mrn__startswith="RIV-").exists()
    assert Patient.objects.filter(mrn__startswith="HMC-").exists()
    assert DuplicateCandidate.objects.filter(status="open").exists()  # duplicate detection ran
    assert CareRelationship.objects.filter(practitioner__in=doctors).count() >= 12
    # symptom checks for the usage page, and one booked from, attached to its appointment
    assert TriageSession.objects.filter(status="done", patient__isnull=True).count() == 24
    booked = TriageSession.objects.get(appointment__isnull=False)
    assert booked.patient == booked.appointment.patient
    for role in (Role.CLINIC_ADMIN, Role.AUDITOR, Role.RECEPTIONIST, Role.NURSE):
        assert User.objects.filter(role=role).count() == 1

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = json.loads(path.read_text())
    assert set(creds) == {"note", *STAFF_KEYS, "doctors", "patients"}
    assert "totp_secret" in creds["note"]
    for key in STAFF_KEYS:
        assert {"username", "password", "totp_secret"} <= set(creds[key])
    assert len(creds["doctors"]) == 12
    for doctor in creds["doctors"]:
        assert set(doctor) == {"username", "password", "totp_secret", "name", "specialties", "site"}
        assert doctor["specialties"] and doctor["site"] in {
            "Riverside Clinic",
            "Harbor Medical Center",
        }
    assert len(creds["patients"]) == 10
    for patient in creds["patients"]:
        assert set(patient) == {"username", "password", "name", "mrn"}
        assert Patient.objects.get(mrn=patient["mrn"]).user.email == patient["username"]

    entries = [*(creds[k] for k in STAFF_KEYS), *creds["doctors"], *creds["patients"]]
    emails = [e["username"] for e in entries]
    assert len(set(emails)) == len(emails)
    assert all(e.endswith(("@example.org", "@example.com")) for e in emails)
    assert len({e["password"] for e in entries}) == len(entries)  # generated, never shared

    # Every password works; every staff member has TOTP with the secret written in the file.
    for entry in entries:
        user = authenticate(email=entry["username"], password=entry["password"])
        assert user is not None, entry["username"]
        if user.role in STAFF_ROLES:
            assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
            assert "totp_secret" in entry
    assert (
        not User.objects.filter(role__in=STAFF_ROLES).exclude(authenticator__type="totp").exists()
    )


@pytest.mark.django_db
def test_the_one_liner_in_the_note_computes_the_same_code_as_allauth(var_dir):
    seed()
    secret = json.loads((var_dir / "demo-credentials.json").read_text())["admin"]["totp_secret"]
    script = TOTP_NOTE.split('python3 -c "')[1].split('" TOTP_SECRET')[0]
    before = totp_code(secret)
    printed = subprocess.run(
        [sys.executable, "-c", script, secret], capture_output=True, text=True, check=True
    )
    assert printed.stdout.strip() in {before, totp_code(secret)}  # the 30 s window may roll over


@pytest.mark.django_db
def test_second_run_creates_nothing_and_force_credentials_replaces_passwords(var_dir):
    seed()
    path = var_dir / "demo-credentials.json"
    first = json.loads(path.read_text())
    counts = _counts()

    output = seed()
    assert "Demo data already loaded" in output and str(path) in output
    assert _counts() == counts
    assert json.loads(path.read_text()) == first

    seed("--force-credentials")
    second = json.loads(path.read_text())
    assert User.objects.count() == counts["User"] and Patient.objects.count() == counts["Patient"]
    assert second["admin"]["username"] == first["admin"]["username"]
    assert second["admin"]["password"] != first["admin"]["password"]
    assert (
        second["admin"]["totp_secret"] == first["admin"]["totp_secret"]
    )  # authenticator apps keep working
    assert [d["username"] for d in second["doctors"]] == [d["username"] for d in first["doctors"]]
    assert second["patients"][0]["mrn"] == first["patients"][0]["mrn"]
    assert (
        authenticate(email=first["admin"]["username"], password=first["admin"]["password"]) is None
    )
    assert (
        authenticate(email=second["admin"]["username"], password=second["admin"]["password"])
        is not None
    )
    assert authenticate(
        email=second["patients"][0]["username"], password=second["patients"][0]["password"]
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

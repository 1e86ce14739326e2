"""`manage.py rotate_keys`: a new active key, every encrypted value re-encrypted with it, old
keys retired only once nothing uses them, and a refusal for keys held in the environment."""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from io import StringIO

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import ExpressionWrapper, F, TextField, Value

from carehub.accounts.adapters import MFA_SECRET_PURPOSE
from carehub.accounts.tests.factories import make_user, totp_code
from carehub.core import crypto
from carehub.patients.models import Patient
from carehub.patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db
NATIONAL_ID = "patients.patient.national_id"


@pytest.fixture(autouse=True)
def _start_of_a_totp_period():
    """TOTP codes change every 30 s: each test starts at the beginning of a period, so a code
    the test computes is still current when the server checks it (no flaky boundary)."""
    from allauth.mfa import app_settings

    now = time.time()
    with time_machine.travel(now - now % app_settings.TOTP_PERIOD + 0.2, tick=True):
        yield


@pytest.fixture
def key_file(settings, tmp_path, monkeypatch):
    """This test's own key file: rotation and retirement never touch the session's key."""
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    settings.CAREHUB_KEY_FILE = tmp_path / "keys.json"
    crypto.write_keyring(crypto.generate_keyring())
    yield settings.CAREHUB_KEY_FILE
    crypto.keyring.cache_clear()


def rotate(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def raw_national_id(patient: Patient) -> str:
    return (
        Patient.objects.annotate(raw=ExpressionWrapper(F("national_id"), output_field=TextField()))
        .values_list("raw", flat=True)
        .get(pk=patient.pk)
    )


def file_keys(path) -> tuple[str, set[str]]:
    data = json.loads(path.read_text())
    return data["active"], set(data["keys"])


def test_rotation_re_encrypts_patient_fields_and_mfa_secrets_under_a_new_key(key_file):
    old_kid = crypto.keyring().active
    patient = PatientFactory(national_id="QQ123456C")
    user = make_user("doctor")
    recovery = RecoveryCodes.activate(user)
    codes_before = recovery.get_unused_codes()
    updated_at = patient.updated_at

    out, _ = rotate()

    new_kid, kids = file_keys(key_file)
    assert new_kid != old_kid
    assert kids == {old_kid, new_kid}  # the old key stays until it is retired
    assert f"New active key {new_kid}" in out
    assert "Re-encrypted 1 value(s) in encrypted model fields" in out
    assert "Re-encrypted 2 value(s) in MFA authenticator secrets" in out

    raw = raw_national_id(patient)
    assert crypto.key_id_of(raw) == new_kid
    patient.refresh_from_db()
    assert patient.national_id == "QQ123456C"
    assert patient.updated_at == updated_at  # rotating keys changes no data

    totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert crypto.key_id_of(totp.data["secret"]) == new_kid
    assert crypto.decrypt_text(totp.data["secret"], purpose=MFA_SECRET_PURPOSE) == user.totp_secret
    assert TOTP(totp).validate_code(totp_code(user.totp_secret))

    rc = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    assert crypto.key_id_of(rc.data["seed"]) == new_kid
    assert RecoveryCodes(rc).get_unused_codes() == codes_before


def test_a_second_run_finds_nothing_left_to_re_encrypt(key_file):
    PatientFactory(national_id="QQ123456C")
    make_user("nurse")
    rotate()

    out, _ = rotate("--reencrypt-only")

    assert "Re-encrypted 0 value(s) in encrypted model fields" in out
    assert "Re-encrypted 0 value(s) in MFA authenticator secrets" in out


def test_small_batches_cover_every_row(key_file):
    patients = [PatientFactory(national_id=f"QQ{i:06d}C") for i in range(7)]
    PatientFactory(national_id="")  # empty values are left alone

    out, _ = rotate("--batch-size", "2")

    active = crypto.keyring().active
    assert "Re-encrypted 7 value(s) in encrypted model fields" in out
    for i, patient in enumerate(patients):
        assert crypto.key_id_of(raw_national_id(patient)) == active
        patient.refresh_from_db()
        assert patient.national_id == f"QQ{i:06d}C"


def test_retire_old_removes_keys_that_nothing_uses_any_more(key_file):
    old_kid = crypto.keyring().active
    patient = PatientFactory(national_id="QQ123456C")
    user = make_user("receptionist")

    out, _ = rotate("--retire-old")

    new_kid, kids = file_keys(key_file)
    assert kids == {new_kid}
    assert f"Retired 1 key(s): {old_kid}" in out
    patient.refresh_from_db()
    assert patient.national_id == "QQ123456C"
    totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert TOTP(totp).validate_code(totp_code(user.totp_secret))


def test_retire_old_keeps_a_key_that_is_still_in_use(key_file):
    old_kid = crypto.keyring().active
    holder = crypto.CiphertextHolder(
        name="stubborn files",
        key_usage=lambda: Counter({old_kid: 3}),
        reencrypt=lambda batch_size: 0,
    )
    crypto.register_holder(holder)
    try:
        out, err = rotate("--retire-old")
    finally:
        crypto._holders.pop(holder.name)

    _, kids = file_keys(key_file)
    assert old_kid in kids
    assert f"Key {old_kid} is still used by 3 value(s); kept" in err
    assert "No old key to retire" in out


def test_registered_holders_are_re_encrypted_too(key_file):
    calls = []
    holder = crypto.CiphertextHolder(
        name="documents",
        key_usage=Counter,
        reencrypt=lambda batch_size: calls.append(batch_size) or 4,
    )
    crypto.register_holder(holder)
    try:
        out, _ = rotate("--batch-size", "50")
    finally:
        crypto._holders.pop(holder.name)

    assert calls == [50]
    assert "Re-encrypted 4 value(s) in documents" in out


def test_the_run_is_recorded_in_the_audit_trail(key_file):
    from carehub.audit.models import Event

    PatientFactory(national_id="QQ123456C")
    rotate("--retire-old")

    event = Event.objects.get(name="encryption.keys_rotated")
    assert event.data["active_key"] == crypto.keyring().active
    assert event.data["reencrypted"]["encrypted model fields"] == 1
    assert len(event.data["retired_keys"]) == 1


def test_a_value_that_cannot_be_decrypted_stops_the_run_with_its_location(key_file):
    patient = PatientFactory(national_id="QQ123456C")
    raw = raw_national_id(patient)
    head, _, rest = raw.split(":", 2)
    # A value under a key that is no longer anywhere (written as is, bypassing the field).
    Patient.objects.filter(pk=patient.pk).update(
        national_id=Value(f"{head}:gone0000:{rest}", output_field=TextField())
    )

    with pytest.raises(
        CommandError, match=rf"Patient.national_id of row pk={patient.pk}.*gone0000"
    ):
        rotate()


def _env(keys: dict[str, bytes]) -> str:
    return ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keys.items())


def test_refuses_when_keys_come_from_the_environment_and_explains_the_manual_way(
    key_file, monkeypatch
):
    monkeypatch.setenv(crypto.ENV_VAR, _env({"envkey01": os.urandom(32)}))
    before = key_file.read_bytes()
    err = StringIO()

    with pytest.raises(CommandError, match="CAREHUB_ENCRYPTION_KEYS"):
        call_command("rotate_keys", stdout=StringIO(), stderr=err)

    assert "Put it FIRST in CAREHUB_ENCRYPTION_KEYS" in err.getvalue()
    assert "--reencrypt-only" in err.getvalue()
    assert key_file.read_bytes() == before


def test_reencrypt_only_moves_values_to_a_new_environment_key(key_file, monkeypatch):
    old, new = os.urandom(32), os.urandom(32)
    monkeypatch.setenv(crypto.ENV_VAR, _env({"oldkey01": old}))
    patient = PatientFactory(national_id="QQ123456C")
    assert crypto.key_id_of(raw_national_id(patient)) == "oldkey01"
    # The operator puts a new key first and restarts the processes.
    monkeypatch.setenv(crypto.ENV_VAR, _env({"newkey01": new, "oldkey01": old}))

    out, _ = rotate("--reencrypt-only", "--retire-old")

    assert crypto.key_id_of(raw_national_id(patient)) == "newkey01"
    patient.refresh_from_db()
    assert patient.national_id == "QQ123456C"
    assert "remove them from CAREHUB_ENCRYPTION_KEYS and restart: oldkey01" in out

"""Encryption at rest: AES-GCM with the key id beside the ciphertext and the purpose as
associated data; EncryptedTextField never lets plaintext reach the database."""

from __future__ import annotations

import base64
import json
import os

import pytest
from django.core.exceptions import FieldError
from django.db import connection
from django.db.models import ExpressionWrapper, F, TextField

from carehub.core import crypto
from carehub.core.fields import EncryptedTextField

PURPOSE = "tests.thing.secret"


@pytest.fixture
def key_file(settings, tmp_path, monkeypatch):
    """A key file of this test's own, so nothing here disturbs the session's key."""
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    settings.CAREHUB_KEY_FILE = tmp_path / "keys.json"
    crypto.write_keyring(crypto.generate_keyring())
    yield settings.CAREHUB_KEY_FILE
    crypto.keyring.cache_clear()


def _flip_byte(token: str, index: int) -> str:
    head, kid, b64 = token.split(":", 2)
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return f"{head}:{kid}:{base64.b64encode(bytes(raw)).decode()}"


def _env_keys(*kids: str) -> tuple[str, dict[str, bytes]]:
    keys = {kid: os.urandom(32) for kid in kids}
    return ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keys.items()), keys


# --- the service ----------------------------------------------------------------------------


def test_text_round_trips_and_names_the_active_key(key_file):
    token = crypto.encrypt_text("QQ123456C", purpose=PURPOSE)

    assert token.startswith(f"ch1:{crypto.keyring().active}:")
    assert "QQ123456C" not in token
    assert crypto.key_id_of(token) == crypto.keyring().active
    assert crypto.decrypt_text(token, purpose=PURPOSE) == "QQ123456C"


def test_bytes_round_trip_including_non_ascii_and_empty(key_file):
    for data in (b"", b"\x00\xff:\x3a binary", "naïve café ✓".encode()):
        assert (
            crypto.decrypt_bytes(crypto.encrypt_bytes(data, purpose=PURPOSE), purpose=PURPOSE)
            == data
        )


def test_same_plaintext_encrypts_differently_each_time(key_file):
    assert crypto.encrypt_text("same", purpose=PURPOSE) != crypto.encrypt_text(
        "same", purpose=PURPOSE
    )


@pytest.mark.parametrize("index", [0, 11, 12, -1])  # nonce, first/last ciphertext byte, tag
def test_a_flipped_byte_is_detected(key_file, index):
    token = crypto.encrypt_text("QQ123456C", purpose=PURPOSE)

    with pytest.raises(crypto.DecryptionError, match="altered"):
        crypto.decrypt_text(_flip_byte(token, index), purpose=PURPOSE)


def test_a_truncated_ciphertext_is_rejected(key_file):
    head, kid, b64 = crypto.encrypt_text("x", purpose=PURPOSE).split(":", 2)
    short = base64.b64encode(base64.b64decode(b64)[:20]).decode()

    with pytest.raises(crypto.DecryptionError, match="truncated"):
        crypto.decrypt_text(f"{head}:{kid}:{short}", purpose=PURPOSE)


def test_a_ciphertext_moved_to_another_purpose_does_not_decrypt(key_file):
    token = crypto.encrypt_text("QQ123456C", purpose="patients.patient.national_id")

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token, purpose="records.document.body")


def test_an_unknown_key_id_fails_with_a_message_naming_the_key(key_file):
    token = crypto.encrypt_text("QQ123456C", purpose=PURPOSE)
    head, _kid, rest = token.split(":", 2)

    with pytest.raises(crypto.DecryptionError, match=r"'deadbeef'.*not in the keyring"):
        crypto.decrypt_text(f"{head}:deadbeef:{rest}", purpose=PURPOSE)


@pytest.mark.parametrize(
    "value", ["", "plaintext", "ch1:only-two", "ch1:kid:not base64!", "xx1:k:AAAA"]
)
def test_values_that_are_not_our_ciphertexts_are_rejected(key_file, value):
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(value, purpose=PURPOSE)


def test_a_key_added_to_the_file_by_another_process_is_picked_up_without_restart(key_file):
    old = crypto.keyring()
    token_old = crypto.encrypt_text("before", purpose=PURPOSE)
    # Another process (rotate_keys) rewrites the file; this process's cache is not cleared.
    new = old.with_new_active_key()
    data = {
        "active": new.active,
        "keys": {k: base64.b64encode(v).decode() for k, v in new.keys.items()},
    }
    key_file.write_text(json.dumps(data))

    token_new = crypto.encrypt_text("after", purpose=PURPOSE)

    assert crypto.key_id_of(token_new) == new.active != old.active
    assert crypto.decrypt_text(token_old, purpose=PURPOSE) == "before"
    assert crypto.decrypt_text(token_new, purpose=PURPOSE) == "after"


def test_keys_from_the_environment_take_precedence_and_the_first_is_active(key_file, monkeypatch):
    env, keys = _env_keys("newkey", "oldkey")
    monkeypatch.setenv(crypto.ENV_VAR, env)

    ring = crypto.keyring()

    assert crypto.keys_from_environment()
    assert ring.active == "newkey"
    assert ring.keys == keys


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("no-colon-here", "must look like"),
        ("k1:!!!notbase64", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "32 bytes"),
    ],
)
def test_malformed_environment_keys_fail_clearly(key_file, monkeypatch, env, message):
    monkeypatch.setenv(crypto.ENV_VAR, env)

    with pytest.raises(RuntimeError, match=message):
        crypto.load_keyring()


def test_a_missing_key_file_explains_how_to_create_one(settings, tmp_path, monkeypatch):
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    settings.CAREHUB_KEY_FILE = tmp_path / "absent.json"
    crypto.keyring.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="init_keys"):
            crypto.keyring()
    finally:
        crypto.keyring.cache_clear()


def test_the_key_file_is_private(key_file):
    assert key_file.stat().st_mode & 0o077 == 0


def test_the_active_key_cannot_be_retired(key_file):
    ring = crypto.keyring()
    with pytest.raises(ValueError):
        ring.without({ring.active})


# --- EncryptedTextField -----------------------------------------------------------------------


def _raw_national_id(patient) -> str:
    from carehub.patients.models import Patient

    return (
        Patient.objects.annotate(raw=ExpressionWrapper(F("national_id"), output_field=TextField()))
        .values_list("raw", flat=True)
        .get(pk=patient.pk)
    )


@pytest.mark.django_db
def test_the_database_column_never_holds_the_plaintext():
    from carehub.patients.models import Patient
    from carehub.patients.tests.factories import PatientFactory

    patient = PatientFactory(national_id="QQ123456C")

    raw = _raw_national_id(patient)
    with connection.cursor() as cursor:
        cursor.execute("SELECT national_id FROM patients_patient WHERE id = %s", [patient.pk])
        (sql_raw,) = cursor.fetchone()
    assert sql_raw == raw
    assert "QQ123456C" not in raw
    assert raw.startswith(f"ch1:{crypto.keyring().active}:")
    assert crypto.decrypt_text(raw, purpose="patients.patient.national_id") == "QQ123456C"
    assert Patient.objects.get(pk=patient.pk).national_id == "QQ123456C"


@pytest.mark.django_db
def test_the_audit_trail_does_not_copy_the_plaintext():
    from carehub.audit.models import ChangeRecord
    from carehub.patients.tests.factories import PatientFactory

    patient = PatientFactory(national_id="QQ123456C")
    patient.national_id = "ZZ999999Z"
    patient.save()

    rows = ChangeRecord.objects.filter(object_id=str(patient.public_id))
    assert rows.exists()
    dumped = json.dumps([[r.before, r.after] for r in rows])
    assert "QQ123456C" not in dumped
    assert "ZZ999999Z" not in dumped


@pytest.mark.django_db
def test_empty_values_stay_empty_and_can_be_queried():
    from carehub.patients.models import Patient
    from carehub.patients.tests.factories import PatientFactory

    patient = PatientFactory(national_id="")

    assert _raw_national_id(patient) == ""
    assert Patient.objects.filter(national_id="").filter(pk=patient.pk).exists()
    assert not Patient.objects.filter(national_id__isnull=True).filter(pk=patient.pk).exists()


@pytest.mark.django_db
def test_searching_an_encrypted_column_raises_instead_of_silently_matching_nothing():
    from carehub.patients.models import Patient

    with pytest.raises(FieldError, match="encrypted"):
        list(Patient.objects.filter(national_id="QQ123456C"))
    with pytest.raises(FieldError):
        list(Patient.objects.filter(national_id__icontains="QQ"))


@pytest.mark.django_db
def test_a_ciphertext_copied_into_another_encrypted_column_does_not_decrypt():
    field = EncryptedTextField()
    field.purpose = "records.document.note"  # what contribute_to_class sets for another column
    from carehub.patients.tests.factories import PatientFactory

    raw = _raw_national_id(PatientFactory(national_id="QQ123456C"))

    with pytest.raises(crypto.DecryptionError):
        field.from_db_value(raw, None, connection)

"""`manage.py init_keys` creates the key file once, private, readable by the crypto service."""

from __future__ import annotations

import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carehub.core import crypto


@pytest.fixture
def key_file(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("CAREHUB_ENCRYPTION_KEYS", raising=False)
    path = tmp_path / "keys" / "carehub-keys.json"
    settings.CAREHUB_KEY_FILE = path
    crypto.keyring.cache_clear()
    yield path
    crypto.keyring.cache_clear()  # later tests must see the session's key again


def run_init_keys() -> str:
    out = StringIO()
    call_command("init_keys", stdout=out)
    return out.getvalue()


def test_creates_a_private_key_file_that_the_crypto_service_reads(key_file):
    output = run_init_keys()

    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in output
    crypto.keyring.cache_clear()
    ring = crypto.load_keyring()
    assert ring.active in ring.keys
    assert len(ring.keys[ring.active]) == 32
    token = crypto.encrypt_text("secret", purpose="test.init_keys")
    assert crypto.decrypt_text(token, purpose="test.init_keys") == "secret"


def test_second_run_leaves_the_key_file_unchanged(key_file):
    run_init_keys()
    before = key_file.read_bytes()
    mtime = key_file.stat().st_mtime_ns

    output = run_init_keys()

    assert key_file.read_bytes() == before
    assert key_file.stat().st_mtime_ns == mtime
    assert "exists" in output


def test_does_nothing_when_keys_come_from_the_environment(key_file, monkeypatch):
    ring = crypto.generate_keyring()
    kid, key = next(iter(ring.keys.items()))
    monkeypatch.setenv("CAREHUB_ENCRYPTION_KEYS", f"{kid}:{crypto._b64e(key)}")

    output = run_init_keys()

    assert not key_file.exists()
    assert "CAREHUB_ENCRYPTION_KEYS" in output


def test_refuses_a_damaged_key_file_without_replacing_it(key_file):
    key_file.parent.mkdir(parents=True)
    key_file.write_text('{"active": "x", "keys": {}}')

    with pytest.raises(CommandError):
        run_init_keys()

    assert key_file.read_text() == '{"active": "x", "keys": {}}'

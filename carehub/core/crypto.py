"""Encryption at rest: one service for fields and files.

AES-256-GCM (`cryptography`), a fresh 96-bit nonce per message, and the key id stored beside the
ciphertext so keys can rotate: `ch1:<key id>:<base64(nonce + ciphertext + tag)>`. The associated
data binds a ciphertext to its purpose (`patients.patient.national_id`), so a value copied into
another column or file does not decrypt there.

Keys come from the environment (`CAREHUB_ENCRYPTION_KEYS="kid:base64key,..."`, first is active)
or from the key file named by `CAREHUB_KEY_FILE` (JSON `{"active": kid, "keys": {kid: b64}}`),
created on first `make run` and kept out of the repository."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

PREFIX = "ch1"


class DecryptionError(Exception):
    """The ciphertext was altered, belongs elsewhere, or its key is unknown."""


@dataclass(frozen=True)
class Keyring:
    active: str
    keys: dict[str, bytes]


def _b64d(value: str) -> bytes:
    return base64.b64decode(value.encode(), validate=True)


def _b64e(value: bytes) -> str:
    return base64.b64encode(value).decode()


def new_key_id() -> str:
    return secrets.token_hex(4)


def load_keyring() -> Keyring:
    env = os.environ.get("CAREHUB_ENCRYPTION_KEYS", "").strip()
    if env:
        pairs = [item.split(":", 1) for item in env.split(",") if item.strip()]
        keys = {kid.strip(): _b64d(b64.strip()) for kid, b64 in pairs}
        return _checked(Keyring(active=pairs[0][0].strip(), keys=keys))
    path = Path(settings.CAREHUB_KEY_FILE)
    if not path.exists():
        raise RuntimeError(
            f"No encryption key: set CAREHUB_ENCRYPTION_KEYS or run `manage.py init_keys` to create {path}."
        )
    data = json.loads(path.read_text())
    return _checked(Keyring(active=data["active"], keys={k: _b64d(v) for k, v in data["keys"].items()}))


def _checked(ring: Keyring) -> Keyring:
    if ring.active not in ring.keys:
        raise RuntimeError("The active encryption key id is not among the keys.")
    for kid, key in ring.keys.items():
        if len(key) != 32 or ":" in kid:
            raise RuntimeError(f"Encryption key {kid!r} must be 32 bytes (AES-256) with no ':' in its id.")
    return ring


def write_keyring(ring: Keyring, path: Path | None = None) -> Path:
    path = Path(path or settings.CAREHUB_KEY_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"active": ring.active, "keys": {k: _b64e(v) for k, v in ring.keys.items()}}, fh, indent=1)
    os.replace(tmp, path)
    keyring.cache_clear()
    return path


def generate_keyring() -> Keyring:
    kid = new_key_id()
    return Keyring(active=kid, keys={kid: AESGCM.generate_key(bit_length=256)})


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    return load_keyring()


def encrypt_bytes(plaintext: bytes, *, purpose: str) -> bytes:
    ring = keyring()
    nonce = os.urandom(12)
    ct = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext, purpose.encode())
    return f"{PREFIX}:{ring.active}:".encode() + nonce + ct


def decrypt_bytes(blob: bytes, *, purpose: str) -> bytes:
    try:
        prefix, kid, rest = blob.split(b":", 2)
    except ValueError as exc:
        raise DecryptionError("Not an encrypted value.") from exc
    if prefix.decode(errors="replace") != PREFIX:
        raise DecryptionError("Unknown encryption format.")
    key = keyring().keys.get(kid.decode(errors="replace"))
    if key is None:
        raise DecryptionError("The key this value was encrypted with is not available.")
    try:
        return AESGCM(key).decrypt(rest[:12], rest[12:], purpose.encode())
    except InvalidTag as exc:
        raise DecryptionError("The encrypted value was altered or belongs elsewhere.") from exc


def encrypt_text(plaintext: str, *, purpose: str) -> str:
    blob = encrypt_bytes(plaintext.encode(), purpose=purpose)
    head, kid, rest = blob.split(b":", 2)
    return f"{head.decode()}:{kid.decode()}:{_b64e(rest)}"


def decrypt_text(token: str, *, purpose: str) -> str:
    try:
        head, kid, b64 = token.split(":", 2)
        blob = f"{head}:{kid}:".encode() + _b64d(b64)
    except (ValueError, UnicodeError) as exc:
        raise DecryptionError("Not an encrypted value.") from exc
    return decrypt_bytes(blob, purpose=purpose).decode()


def key_id_of(token: str | bytes) -> str:
    if isinstance(token, bytes):
        return token.split(b":", 2)[1].decode()
    return token.split(":", 2)[1]

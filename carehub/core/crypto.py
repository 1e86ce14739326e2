"""Encryption at rest: one service for fields and files.

AES-256-GCM (`cryptography`), a fresh 96-bit nonce per message, and the key id stored beside the
ciphertext so keys can rotate: `ch1:<key id>:<base64(nonce + ciphertext + tag)>`. The associated
data binds a ciphertext to its purpose (`patients.patient.national_id`), so a value copied into
another column or file does not decrypt there.

Keys come from the environment (`CAREHUB_ENCRYPTION_KEYS="kid:base64key,..."`, first is active)
or from the key file named by `CAREHUB_KEY_FILE` (JSON `{"active": kid, "keys": {kid: b64}}`),
created on first `make run` (`manage.py init_keys`) and kept out of the repository.
`manage.py rotate_keys` adds a key, re-encrypts every value and can retire old keys; every
process notices a changed key file on its next encryption or decryption (no restart needed).

Code that stores ciphertexts somewhere other than an `EncryptedTextField` (files, JSON) registers
a `CiphertextHolder` so key rotation re-encrypts those too and never retires a key still in use."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

PREFIX = "ch1"
ENV_VAR = "CAREHUB_ENCRYPTION_KEYS"
NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionError(Exception):
    """The ciphertext was altered, belongs elsewhere, or its key is unknown."""


@dataclass(frozen=True)
class Keyring:
    active: str
    keys: dict[str, bytes]

    def with_new_active_key(self) -> Keyring:
        """A copy with a freshly generated key made active; older keys stay for decryption."""
        kid = new_key_id()
        while kid in self.keys:
            kid = new_key_id()
        return Keyring(active=kid, keys={**self.keys, kid: AESGCM.generate_key(bit_length=256)})

    def without(self, kids: set[str]) -> Keyring:
        if self.active in kids:
            raise ValueError("The active key cannot be removed.")
        return Keyring(
            active=self.active, keys={k: v for k, v in self.keys.items() if k not in kids}
        )


def _b64d(value: str) -> bytes:
    return base64.b64decode(value.encode(), validate=True)


def _b64e(value: bytes) -> str:
    return base64.b64encode(value).decode()


def new_key_id() -> str:
    return secrets.token_hex(4)


def keys_from_environment() -> bool:
    """True when the keys come from CAREHUB_ENCRYPTION_KEYS (they cannot be rewritten from here)."""
    return bool(os.environ.get(ENV_VAR, "").strip())


def _parse_env(env: str) -> Keyring:
    keys: dict[str, bytes] = {}
    active = ""
    for item in (part.strip() for part in env.split(",")):
        if not item:
            continue
        kid, sep, b64 = item.partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise RuntimeError(f"{ENV_VAR} must look like 'kid:base64key,kid2:base64key2'.")
        try:
            keys[kid] = _b64d(b64.strip())
        except (binascii.Error, ValueError) as exc:
            raise RuntimeError(f"{ENV_VAR}: the key {kid!r} is not valid base64.") from exc
        active = active or kid
    if not keys:
        raise RuntimeError(f"{ENV_VAR} is set but holds no key.")
    return Keyring(active=active, keys=keys)


def load_keyring() -> Keyring:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _checked(_parse_env(env))
    path = Path(settings.CAREHUB_KEY_FILE)
    if not path.exists():
        raise RuntimeError(
            f"No encryption key: set {ENV_VAR} or run `manage.py init_keys` to create {path}."
        )
    try:
        data = json.loads(path.read_text())
        ring = Keyring(active=data["active"], keys={k: _b64d(v) for k, v in data["keys"].items()})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuntimeError(f"The encryption key file {path} is not valid: {exc}") from exc
    return _checked(ring)


def _checked(ring: Keyring) -> Keyring:
    if ring.active not in ring.keys:
        raise RuntimeError("The active encryption key id is not among the keys.")
    for kid, key in ring.keys.items():
        if len(key) != 32 or ":" in kid:
            raise RuntimeError(
                f"Encryption key {kid!r} must be 32 bytes (AES-256) with no ':' in its id."
            )
    return ring


def write_keyring(ring: Keyring, path: Path | None = None) -> Path:
    """Write the key file atomically (mode 0600); every process picks the change up."""
    _checked(ring)
    path = Path(path or settings.CAREHUB_KEY_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(
            {"active": ring.active, "keys": {k: _b64e(v) for k, v in ring.keys.items()}},
            fh,
            indent=1,
        )
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    keyring.cache_clear()
    return path


def generate_keyring() -> Keyring:
    kid = new_key_id()
    return Keyring(active=kid, keys={kid: AESGCM.generate_key(bit_length=256)})


class _KeyringCache:
    """`keyring()`: the current keys, reloaded when the key file changes.

    Long-running web and worker processes must see a key added by `rotate_keys` in another
    process, or they could not read values re-encrypted with it. A `stat()` per call is cheap
    next to AES-GCM and a database round trip. Keys from the environment never change while
    the process runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: Keyring | None = None
        self._stamp: tuple | None = None

    def _current_stamp(self) -> tuple:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            return ("env", env)
        path = Path(settings.CAREHUB_KEY_FILE)
        try:
            st = path.stat()
        except FileNotFoundError:
            return ("missing", str(path))
        return ("file", str(path), st.st_mtime_ns, st.st_size, st.st_ino)

    def __call__(self) -> Keyring:
        stamp = self._current_stamp()
        ring = self._ring
        if ring is not None and stamp == self._stamp:
            return ring
        with self._lock:
            ring = load_keyring()
            self._ring, self._stamp = ring, stamp
            return ring

    def cache_clear(self) -> None:
        with self._lock:
            self._ring, self._stamp = None, None


keyring = _KeyringCache()


def encrypt_bytes(plaintext: bytes, *, purpose: str) -> bytes:
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext, purpose.encode())
    return f"{PREFIX}:{ring.active}:".encode() + nonce + ct


def decrypt_bytes(blob: bytes, *, purpose: str) -> bytes:
    try:
        prefix, kid_raw, rest = blob.split(b":", 2)
    except ValueError as exc:
        raise DecryptionError("Not an encrypted value.") from exc
    if prefix.decode(errors="replace") != PREFIX:
        raise DecryptionError("Unknown encryption format.")
    kid = kid_raw.decode(errors="replace")
    key = keyring().keys.get(kid)
    if key is None:
        raise DecryptionError(
            f"This value was encrypted with key {kid!r}, which is not in the keyring "
            f"({_key_source()}). Restore that key to read it."
        )
    if len(rest) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("The encrypted value is truncated.")
    try:
        return AESGCM(key).decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], purpose.encode())
    except InvalidTag as exc:
        raise DecryptionError(
            f"The encrypted value was altered or belongs elsewhere (purpose {purpose!r})."
        ) from exc


def _key_source() -> str:
    return ENV_VAR if keys_from_environment() else str(settings.CAREHUB_KEY_FILE)


def encrypt_text(plaintext: str, *, purpose: str) -> str:
    blob = encrypt_bytes(plaintext.encode(), purpose=purpose)
    head, kid, rest = blob.split(b":", 2)
    return f"{head.decode()}:{kid.decode()}:{_b64e(rest)}"


def decrypt_text(token: str, *, purpose: str) -> str:
    try:
        head, kid, b64 = token.split(":", 2)
        blob = f"{head}:{kid}:".encode() + _b64d(b64)
    except (ValueError, UnicodeError, AttributeError) as exc:
        raise DecryptionError("Not an encrypted value.") from exc
    try:
        return decrypt_bytes(blob, purpose=purpose).decode()
    except UnicodeDecodeError as exc:  # pragma: no cover - only with a valid tag on non-UTF-8
        raise DecryptionError("The decrypted value is not text.") from exc


def is_encrypted(token: str | bytes | None) -> bool:
    if not token:
        return False
    head = token[: len(PREFIX) + 1]
    return head in (f"{PREFIX}:", f"{PREFIX}:".encode())


def key_id_of(token: str | bytes) -> str:
    """The key id a ciphertext names (raises DecryptionError if it is not one of ours)."""
    if not is_encrypted(token):
        raise DecryptionError("Not an encrypted value.")
    if isinstance(token, bytes):
        return token.split(b":", 2)[1].decode(errors="replace")
    return token.split(":", 2)[1]


# --- Key rotation: everything that stores ciphertexts -------------------------------------------


@dataclass(frozen=True)
class CiphertextHolder:
    """A place that stores ciphertexts, for `manage.py rotate_keys`.

    `key_usage()` counts the stored values per key id; `reencrypt(batch_size)` rewrites every
    value not under the active key with the active key and returns how many it rewrote.
    EncryptedTextField columns and MFA secrets are built in; register other holders (encrypted
    files, JSON documents) from `AppConfig.ready()` with `register_holder()`."""

    name: str
    key_usage: Callable[[], Counter[str]]
    reencrypt: Callable[[int], int]
    order: int = field(default=100, compare=False)


_holders: dict[str, CiphertextHolder] = {}


def register_holder(holder: CiphertextHolder) -> None:
    _holders[holder.name] = holder


def registered_holders() -> list[CiphertextHolder]:
    return sorted(_holders.values(), key=lambda h: (h.order, h.name))

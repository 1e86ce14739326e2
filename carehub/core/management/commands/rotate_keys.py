"""`manage.py rotate_keys`: add a new encryption key and re-encrypt everything with it.

1. A new key is generated and written to the key file as the active key; older keys stay so
   existing values can still be read (every process picks the new file up on its next use).
2. Every EncryptedTextField value of every model, every allauth MFA secret (TOTP secret,
   recovery-code seed) and every registered `crypto.CiphertextHolder` is re-encrypted with the
   active key, in batches, each batch in its own transaction. Values already under the active
   key are skipped, so an interrupted run can simply be started again.
3. `--retire-old` then removes the keys that no stored value uses any more (checked by scanning
   everything again); a key still in use is kept and reported.

Rows are rewritten with `update()` of the raw column: a rotation changes no data, so it must not
bump `updated_at` or add change rows; one `encryption.keys_rotated` audit event records the run.

Keys from the CAREHUB_ENCRYPTION_KEYS environment variable cannot be rewritten from here: the
command then explains the manual procedure (`--reencrypt-only` does step 2 for it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, Q, Value

from carehub.core import crypto
from carehub.core.fields import EncryptedTextField

RAW = "_carehub_raw"
NOT_ENCRYPTED = "(not encrypted)"

ENV_INSTRUCTIONS = """\
Encryption keys come from the CAREHUB_ENCRYPTION_KEYS environment variable, which this command
cannot change. To rotate them by hand:

  1. Generate a key:
       python -c "import base64, os, secrets; \\
         print(secrets.token_hex(4) + ':' + base64.b64encode(os.urandom(32)).decode())"
  2. Put it FIRST in CAREHUB_ENCRYPTION_KEYS (the first key is the active one) and keep the old
     keys after it, e.g. CAREHUB_ENCRYPTION_KEYS="<new kid>:<new key>,<old kid>:<old key>".
  3. Restart every web and worker process with the new value.
  4. Re-encrypt the stored values with the new key:
       manage.py rotate_keys --reencrypt-only
  5. Run `manage.py rotate_keys --reencrypt-only --retire-old` to see which old keys no stored
     value uses any more, remove those from the variable and restart again. Keep a copy of
     retired keys as long as you keep database backups made before the rotation."""


def _raw_queryset(model: type[models.Model], field: models.Field) -> models.QuerySet:
    """Rows of `model` with the stored (still encrypted) value of `field` as RAW."""
    return (
        model._base_manager.annotate(
            **{RAW: ExpressionWrapper(F(field.attname), output_field=models.TextField())}
        )
        .exclude(**{f"{RAW}__isnull": True})
        .exclude(**{RAW: ""})
    )


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.local_concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def _kid(value: Any) -> str:
    return crypto.key_id_of(value) if crypto.is_encrypted(value) else NOT_ENCRYPTED


# --- Built-in holder 1: EncryptedTextField columns -----------------------------------------


def _fields_usage() -> Counter[str]:
    usage: Counter[str] = Counter()
    for model, field in encrypted_fields():
        for raw in _raw_queryset(model, field).values_list(RAW, flat=True).iterator(2000):
            usage[_kid(raw)] += 1
    return usage


def _fields_reencrypt(batch_size: int) -> int:
    total = 0
    for model, field in encrypted_fields():
        total += reencrypt_field(model, field, batch_size=batch_size)
    return total


def reencrypt_field(
    model: type[models.Model], field: EncryptedTextField, *, batch_size: int
) -> int:
    active = crypto.keyring().active
    pending = _raw_queryset(model, field).exclude(
        Q(**{f"{RAW}__startswith": f"{crypto.PREFIX}:{active}:"})
    )
    done = 0
    last_pk: Any = None
    while True:
        with transaction.atomic():
            batch = pending.order_by("pk")
            if last_pk is not None:
                batch = batch.filter(pk__gt=last_pk)
            rows = list(batch.select_for_update().values_list("pk", RAW)[:batch_size])
            for pk, raw in rows:
                try:
                    plaintext = crypto.decrypt_text(raw, purpose=field.purpose)
                except crypto.DecryptionError as exc:
                    raise CommandError(
                        f"{model._meta.label}.{field.name} of row pk={pk} cannot be "
                        f"decrypted: {exc}"
                    ) from exc
                token = crypto.encrypt_text(plaintext, purpose=field.purpose)
                model._base_manager.filter(pk=pk).update(
                    **{field.attname: Value(token, output_field=models.TextField())}
                )
                done += 1
        if len(rows) < batch_size:
            return done
        last_pk = rows[-1][0]


# --- Built-in holder 2: allauth MFA secrets ------------------------------------------------

MFA_SECRET_KEYS = ("secret", "seed")  # TOTP secret; recovery-code seed
MFA_CODE_LIST_KEYS = ("migrated_codes",)  # recovery codes imported from another system


def _mfa_queryset():
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    )


def _mfa_values(data: dict) -> Iterator[str]:
    for key in MFA_SECRET_KEYS:
        if isinstance(data.get(key), str):
            yield data[key]
    for key in MFA_CODE_LIST_KEYS:
        yield from data.get(key) or []


def _mfa_usage() -> Counter[str]:
    usage: Counter[str] = Counter()
    for data in _mfa_queryset().values_list("data", flat=True).iterator(2000):
        for value in _mfa_values(data or {}):
            usage[_kid(value)] += 1
    return usage


def _mfa_reencrypt(batch_size: int) -> int:
    from allauth.mfa.adapter import get_adapter

    adapter = get_adapter()
    active = crypto.keyring().active

    def rotated(value: str, pk: Any) -> str:
        if not crypto.is_encrypted(value) or crypto.key_id_of(value) == active:
            return value
        try:
            return adapter.encrypt(adapter.decrypt(value))
        except crypto.DecryptionError as exc:
            raise CommandError(f"MFA authenticator pk={pk} cannot be decrypted: {exc}") from exc

    done = 0
    last_pk: Any = None
    while True:
        with transaction.atomic():
            batch = _mfa_queryset().order_by("pk")
            if last_pk is not None:
                batch = batch.filter(pk__gt=last_pk)
            rows = list(batch.select_for_update().values_list("pk", "data")[:batch_size])
            for pk, data in rows:
                new = dict(data or {})
                for key in MFA_SECRET_KEYS:
                    if isinstance(new.get(key), str):
                        new[key] = rotated(new[key], pk)
                for key in MFA_CODE_LIST_KEYS:
                    if new.get(key):
                        new[key] = [rotated(code, pk) for code in new[key]]
                if new != data:
                    _mfa_queryset().filter(pk=pk).update(data=new)
                    done += 1
        if len(rows) < batch_size:
            return done
        last_pk = rows[-1][0]


BUILT_IN_HOLDERS = [
    crypto.CiphertextHolder(
        name="encrypted model fields", key_usage=_fields_usage, reencrypt=_fields_reencrypt, order=0
    ),
    crypto.CiphertextHolder(
        name="MFA authenticator secrets", key_usage=_mfa_usage, reencrypt=_mfa_reencrypt, order=1
    ),
]


def all_holders() -> list[crypto.CiphertextHolder]:
    return BUILT_IN_HOLDERS + crypto.registered_holders()


def key_usage() -> Counter[str]:
    usage: Counter[str] = Counter()
    for holder in all_holders():
        usage.update(holder.key_usage())
    return usage


class Command(BaseCommand):
    help = (
        "Add a new active encryption key, re-encrypt every encrypted value with it and "
        "optionally retire keys nothing uses any more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--retire-old",
            action="store_true",
            help="Afterwards remove old keys that no stored value uses (verified by a full scan).",
        )
        parser.add_argument(
            "--reencrypt-only",
            action="store_true",
            help="Do not add a key: re-encrypt values still under older keys with the active key.",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        from_env = crypto.keys_from_environment()
        if from_env and not options["reencrypt_only"]:
            self.stderr.write(ENV_INSTRUCTIONS)
            raise CommandError(
                "Refusing to rotate: keys come from CAREHUB_ENCRYPTION_KEYS (see above)."
            )
        try:
            ring = crypto.load_keyring()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc

        if not options["reencrypt_only"]:
            ring = ring.with_new_active_key()
            path = crypto.write_keyring(ring)
            self.stdout.write(
                f"New active key {ring.active} written to {path}; "
                f"{len(ring.keys) - 1} older key(s) kept for decryption."
            )
        active = crypto.keyring().active

        counts: dict[str, int] = {}
        for holder in all_holders():
            counts[holder.name] = holder.reencrypt(batch_size)
            self.stdout.write(f"Re-encrypted {counts[holder.name]} value(s) in {holder.name}.")

        usage = key_usage()
        for kid in sorted(set(crypto.keyring().keys) | set(usage)):
            marker = " (active)" if kid == active else ""
            self.stdout.write(f"Key {kid}{marker}: {usage.get(kid, 0)} value(s).")

        retired: list[str] = []
        if options["retire_old"]:
            retired = self._retire(usage, from_env=from_env)

        from carehub.audit import services as audit
        from carehub.audit.choices import Priority

        audit.event_record(
            actor=None,
            name="encryption.keys_rotated",
            priority=Priority.HIGH,
            data={
                "active_key": active,
                "new_key": not options["reencrypt_only"],
                "reencrypted": counts,
                "retired_keys": retired,
            },
        )
        self.stdout.write(self.style.SUCCESS(f"Done. Active key: {active}."))

    def _retire(self, usage: Counter[str], *, from_env: bool) -> list[str]:
        ring = crypto.keyring()
        old = [kid for kid in ring.keys if kid != ring.active]
        in_use = sorted(kid for kid in old if usage.get(kid, 0) > 0)
        unused = sorted(kid for kid in old if usage.get(kid, 0) == 0)
        for kid in in_use:
            self.stderr.write(
                f"Key {kid} is still used by {usage[kid]} value(s); kept. Run the command again."
            )
        if not unused:
            self.stdout.write("No old key to retire.")
            return []
        if from_env:
            self.stdout.write(
                "No stored value uses these keys any more; remove them from "
                f"CAREHUB_ENCRYPTION_KEYS and restart: {', '.join(unused)}."
            )
            return []
        crypto.write_keyring(ring.without(set(unused)))
        self.stdout.write(
            f"Retired {len(unused)} key(s): {', '.join(unused)}. Database backups made before "
            "this rotation need those keys: keep a copy of the old key file with those backups."
        )
        return unused

"""`manage.py init_keys`: create the encryption key file on first run; never overwrite it.

Keys come from `CAREHUB_ENCRYPTION_KEYS` when that is set (nothing to do then), otherwise from
`settings.CAREHUB_KEY_FILE`. An existing key file is only checked, never replaced: losing it makes
every encrypted value unreadable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from carehub.core import crypto


class Command(BaseCommand):
    help = "Create the encryption key file (settings.CAREHUB_KEY_FILE) if it does not exist yet."

    # Runs before anything else on a fresh install: a system check that needs the key must not
    # stop the command that creates it.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        if os.environ.get("CAREHUB_ENCRYPTION_KEYS", "").strip():
            self._check_loads("CAREHUB_ENCRYPTION_KEYS")
            self.stdout.write(
                "Encryption keys come from CAREHUB_ENCRYPTION_KEYS; no key file needed."
            )
            return

        path = Path(settings.CAREHUB_KEY_FILE)
        if path.exists():
            self._check_loads(str(path))
            self.stdout.write(f"Encryption key file exists: {path} (left unchanged).")
            return

        new_dir = not path.parent.exists()
        written = crypto.write_keyring(crypto.generate_keyring(), path)
        os.chmod(written, 0o600)
        if new_dir:  # a directory we made holds only the key; leave an existing one as it is
            os.chmod(written.parent, 0o700)
        crypto.keyring.cache_clear()
        self.stdout.write(
            self.style.SUCCESS(f"Created encryption key file {written} (mode 0600).")
            + "\nKeep it secret and back it up: encrypted data cannot be read without it."
        )

    def _check_loads(self, source: str) -> None:
        try:
            crypto.load_keyring()
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"The encryption keys in {source} cannot be used: {exc}") from exc

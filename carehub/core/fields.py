"""Model fields backed by the encryption service."""

from __future__ import annotations

from typing import Any

from django.db import models

from carehub.core import crypto


class EncryptedTextField(models.TextField):
    """Stores `ch1:<kid>:<ciphertext>`; Python code only ever sees the plaintext.

    The purpose (associated data) is `app_label.model.field`, so a ciphertext moved to another
    column fails to decrypt. Encrypted columns cannot be searched or sorted in SQL."""

    def contribute_to_class(self, cls: type[models.Model], name: str, *args: Any, **kwargs: Any) -> None:
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.purpose = f"{cls._meta.label_lower}.{name}"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt_text(str(value), purpose=self.purpose)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return value
        return crypto.decrypt_text(value, purpose=self.purpose)

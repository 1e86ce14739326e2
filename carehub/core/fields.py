"""Model fields backed by the encryption service."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models import lookups

from carehub.core import crypto


class EncryptedTextField(models.TextField):
    """Stores `ch1:<kid>:<ciphertext>`; Python code only ever sees the plaintext.

    The purpose (associated data) is `app_label.model.field`, so a ciphertext moved to another
    column fails to decrypt. Encrypted columns cannot be searched or sorted in SQL: every
    encryption uses a fresh nonce, so `filter(national_id="x")` could never match. Such lookups
    raise instead of silently finding nothing; only emptiness can be queried (`isnull`, `= ""`)."""

    def contribute_to_class(
        self, cls: type[models.Model], name: str, *args: Any, **kwargs: Any
    ) -> None:
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

    def get_lookup(self, lookup_name: str):
        if lookup_name == "exact":
            return EncryptedEmptyExact
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # Django reports "Unsupported lookup ... for EncryptedTextField"

    def get_transform(self, lookup_name: str):
        return None


class EncryptedEmptyExact(lookups.Exact):
    """`field=""` / `field=None` only: comparing a ciphertext with a value is meaningless."""

    def get_prep_lookup(self):
        if self.rhs not in (None, "") and not hasattr(self.rhs, "resolve_expression"):
            raise FieldError(
                f"{self.lhs.output_field.model._meta.label}.{self.lhs.output_field.name} is "
                "encrypted: it can only be compared with an empty value. Filter in Python "
                "after reading, or keep a keyed digest column for lookups."
            )
        return super().get_prep_lookup()

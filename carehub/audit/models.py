"""Append-only, hash-chained audit tables.

Rows are never updated or deleted: database triggers (migration 0002) reject UPDATE, DELETE and
TRUNCATE on SQLite and PostgreSQL, and each row carries the SHA-256 of its predecessor, so
`manage.py audit_verify` finds an altered or removed row even if the triggers were dropped."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from carehub.audit.choices import AccessCategory, ChangeAction, Channel, Priority, Purpose
from carehub.core.models import RestrictedManager


class ChainedRecord(models.Model):
    seq = models.BigIntegerField(unique=True, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.UUIDField(null=True, blank=True, db_index=True)  # accounts.User.public_id
    actor_label = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SYSTEM)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    # `restrict(actor, "view")` applies the rules in audit/policies.py (auditors, own record).
    objects = RestrictedManager()

    # Fields covered by the chain hash, in order; subclasses extend it.
    CHAINED_FIELDS: tuple[str, ...] = (
        "seq",
        "at",
        "actor_id",
        "actor_label",
        "actor_role",
        "request_id",
        "ip",
        "channel",
    )

    class Meta:
        abstract = True
        ordering = ["-seq"]


class ChangeRecord(ChainedRecord):
    """Before/after snapshot of one create, update or delete of patient or business data."""

    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    model = models.CharField(max_length=100, db_index=True)  # "patients.patient"
    object_id = models.CharField(max_length=64, db_index=True)
    patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    CHAINED_FIELDS = (
        *ChainedRecord.CHAINED_FIELDS,
        "action",
        "model",
        "object_id",
        "patient_id",
        "before",
        "after",
    )

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.model} {self.object_id}"


class Event(ChainedRecord):
    """A named thing that happened (`user.logged_in`, `patient.merged`), with its parameters."""

    name = models.CharField(max_length=100, db_index=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    CHAINED_FIELDS = (
        *ChainedRecord.CHAINED_FIELDS,
        "name",
        "priority",
        "patient_id",
        "object_type",
        "object_id",
        "data",
    )

    def __str__(self) -> str:
        return f"#{self.seq} {self.name}"


class AccessRecord(ChainedRecord):
    """One read of one patient's data of one category, by a person or an API client."""

    patient_id = models.UUIDField(db_index=True)
    category = models.CharField(max_length=30, choices=AccessCategory.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.CARE)
    view = models.CharField(max_length=100, blank=True)  # route name, never a URL with values

    CHAINED_FIELDS = (*ChainedRecord.CHAINED_FIELDS, "patient_id", "category", "purpose", "view")

    class Meta(ChainedRecord.Meta):
        indexes = [models.Index(fields=["patient_id", "-at"], name="audit_access_patient_at")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.category} read of patient {self.patient_id}"

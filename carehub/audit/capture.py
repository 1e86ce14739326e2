"""Automatic change rows: every save and delete of a registered model appends a ChangeRecord
with the before/after snapshot, in the same transaction as the write.

Apps register their models in `AppConfig.ready()`:

    audit.capture.register(Patient, patient=lambda p: p.public_id, exclude={"search_name"})

Queryset `.update()`/`.delete()` and `bulk_create` bypass signals: services never use them on
audited models (merge and key rotation save row by row for that reason)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete, post_save, pre_save

from carehub.audit.choices import ChangeAction
from carehub.core import context
from carehub.core.fields import EncryptedTextField


def _digest(name: str, value: str) -> str:
    key = hashlib.sha256(("audit-digest:" + settings.SECRET_KEY).encode()).digest()
    return "encrypted:" + hmac.new(key, f"{name}:{value}".encode(), hashlib.sha256).hexdigest()[:16]


@dataclass
class Registration:
    patient: Callable[[Any], uuid.UUID | None] | None = None
    exclude: set[str] = field(default_factory=set)
    skip: Callable[[Any], bool] | None = None


_registry: dict[type[models.Model], Registration] = {}


def register(
    model: type[models.Model],
    *,
    patient: Callable[[Any], uuid.UUID | None] | None = None,
    exclude: set[str] | None = None,
    skip: Callable[[Any], bool] | None = None,
) -> None:
    """Record every change of `model`; `skip(instance)` true means a row that is nobody's
    data (e.g. an anonymous symptom check) and is not recorded."""
    _registry[model] = Registration(
        patient=patient, exclude=set(exclude or ()) | {"updated_at"}, skip=skip
    )
    uid = f"audit-{model._meta.label_lower}"
    pre_save.connect(_pre_save, sender=model, dispatch_uid=uid + "-pre", weak=False)
    post_save.connect(_post_save, sender=model, dispatch_uid=uid + "-post", weak=False)
    post_delete.connect(_post_delete, sender=model, dispatch_uid=uid + "-del", weak=False)


def is_registered(model: type[models.Model]) -> bool:
    return model in _registry


def snapshot(obj: models.Model) -> dict[str, Any]:
    reg = _registry.get(type(obj), Registration())
    data: dict[str, Any] = {}
    encoder = DjangoJSONEncoder()
    for f in obj._meta.concrete_fields:
        if f.name in reg.exclude:
            continue
        value = getattr(obj, f.attname)
        if isinstance(f, EncryptedTextField):
            # Never copy a decrypted secret into the audit trail: a keyed digest shows that it
            # changed without revealing it.
            data[f.attname] = _digest(f.attname, value) if value else value
        elif value is None or isinstance(value, (str, int, bool, float, list, dict)):
            data[f.attname] = value
        elif isinstance(value, FieldFile):
            data[f.attname] = value.name or ""  # the stored file's name, not the file object
        elif isinstance(value, (bytes, memoryview)):
            data[f.attname] = bytes(value).hex()  # BinaryField: bytes on SQLite, memoryview on PG
        else:
            try:
                data[f.attname] = encoder.default(value)
            except TypeError:
                data[f.attname] = f.value_to_string(obj)
    return data


def _object_id(obj: models.Model) -> str:
    return str(getattr(obj, "public_id", None) or obj.pk)


def _patient_id(obj: models.Model) -> uuid.UUID | None:
    reg = _registry.get(type(obj))
    return reg.patient(obj) if reg and reg.patient else None


def _skipped(sender, instance) -> bool:
    reg = _registry.get(sender)
    return bool(reg and reg.skip and reg.skip(instance))


def _pre_save(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance._state.adding or instance.pk is None or _skipped(sender, instance):
        instance._audit_before = None
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old) if old is not None else None


def _post_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw or _skipped(sender, instance):
        return
    from carehub.audit import services

    before = None if created else getattr(instance, "_audit_before", None)
    after = snapshot(instance)
    if before is not None and before == after:
        return  # nothing changed: no row
    if before is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: before.get(k) for k in changed}
        after = {k: after[k] for k in changed}
    services.change_record(
        actor=context.current_actor(),
        action=ChangeAction.CREATE if created else ChangeAction.UPDATE,
        model=sender._meta.label_lower,
        object_id=_object_id(instance),
        patient_id=_patient_id(instance),
        before=before,
        after=after,
    )


def _post_delete(sender, instance, **kwargs) -> None:
    from carehub.audit import services

    services.change_record(
        actor=context.current_actor(),
        action=ChangeAction.DELETE,
        model=sender._meta.label_lower,
        object_id=_object_id(instance),
        patient_id=_patient_id(instance),
        before=snapshot(instance),
        after=None,
    )

"""The one door for writing audit data. Every other app calls these functions."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterable
from typing import Any

from carehub.audit import chain
from carehub.audit.choices import ChangeAction, Priority, Purpose
from carehub.audit.models import AccessRecord, ChangeRecord, Event
from carehub.core import context


def _actor_fields(actor: Any) -> dict[str, Any]:
    ctx = context.current()
    fields: dict[str, Any] = {"request_id": ctx.request_id, "ip": ctx.ip, "channel": ctx.channel}
    if actor is not None and getattr(actor, "is_authenticated", False):
        fields.update(actor_id=actor.public_id, actor_label=actor.email, actor_role=actor.role)
    return fields


def event_record(
    *,
    actor: Any,
    name: str,
    patient_id: uuid.UUID | None = None,
    obj: Any = None,
    priority: str = Priority.NORMAL,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append a named event such as `user.logged_in` or `patient.merged`."""
    fields = _actor_fields(actor)
    if obj is not None:
        fields["object_type"] = obj._meta.label_lower
        fields["object_id"] = str(getattr(obj, "public_id", obj.pk))
    record = Event(name=name, priority=priority, patient_id=patient_id, data=data or {}, **fields)
    return chain.append([record])[0]


def change_record(
    *,
    actor: Any,
    action: ChangeAction,
    model: str,
    object_id: str,
    patient_id: uuid.UUID | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ChangeRecord:
    """Append a before/after snapshot of one write."""
    record = ChangeRecord(
        action=action,
        model=model,
        object_id=object_id,
        patient_id=patient_id,
        before=before,
        after=after,
        **_actor_fields(actor),
    )
    return chain.append([record])[0]


def access_record(
    *,
    actor: Any,
    patient_ids: Iterable[uuid.UUID],
    category: str,
    purpose: str = Purpose.CARE,
    view: str = "",
) -> list[AccessRecord]:
    """Append one access-log row per patient whose `category` data `actor` has just read."""
    fields = _actor_fields(actor)
    records = [
        AccessRecord(patient_id=pid, category=category, purpose=purpose, view=view, **fields)
        for pid in dict.fromkeys(patient_ids)
    ]
    buffer = _access_buffer.get()
    if buffer is not None:
        buffer.extend(records)  # appended by AccessLogMiddleware before the response is sent
        return records
    return chain.append(records)


_access_buffer: contextvars.ContextVar[list[AccessRecord] | None] = contextvars.ContextVar(
    "carehub_access_buffer", default=None
)


def access_buffer_open() -> contextvars.Token:
    """Collect access rows instead of appending each one (see audit.middleware)."""
    return _access_buffer.set([])


def access_buffer_close(token: contextvars.Token, *, flush: bool) -> None:
    """Stop collecting and append what was collected, in one transaction."""
    records = _access_buffer.get() or []
    _access_buffer.reset(token)
    if flush and records:
        chain.append(records)

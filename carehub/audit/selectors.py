"""Reads of the audit trail. Every read starts from the policy-restricted queryset, and reading a
patient's audit trail is itself recorded in that patient's access log."""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from carehub.accounts.choices import Role
from carehub.audit import services
from carehub.audit.choices import AccessCategory, Priority, Purpose
from carehub.audit.filters import (
    AccessFilterForm,
    AuditFilterForm,
    ChangeFilterForm,
    EventFilterForm,
)
from carehub.audit.models import AccessRecord, ChangeRecord, Event

BREAK_GLASS_EVENT = "patient.break_glass_opened"


def _filtered(qs: QuerySet, *, actor, filters: AuditFilterForm, view: str) -> QuerySet:
    if not filters.is_valid():
        return qs.none()
    patient_id = filters.patient_id
    if patient_id is not None and actor.role != Role.PATIENT:
        # An auditor reading one patient's trail is a read of that patient's data.
        services.access_record(
            actor=actor,
            patient_ids=[patient_id],
            category=AccessCategory.AUDIT,
            purpose=Purpose.ADMINISTRATION,
            view=view,
        )
    return filters.apply(qs)


def access_list(*, actor, filters: AccessFilterForm, view: str = "") -> QuerySet[AccessRecord]:
    """Access-log rows `actor` may see, filtered and sorted; empty when the filters are invalid."""
    qs = AccessRecord.objects.restrict(actor, "view")
    return _filtered(qs, actor=actor, filters=filters, view=view)


def event_list(*, actor, filters: EventFilterForm, view: str = "") -> QuerySet[Event]:
    """Named events `actor` may see, filtered and sorted; empty when the filters are invalid."""
    qs = Event.objects.restrict(actor, "view")
    return _filtered(qs, actor=actor, filters=filters, view=view)


def change_list(*, actor, filters: ChangeFilterForm, view: str = "") -> QuerySet[ChangeRecord]:
    """Change rows `actor` may see, filtered and sorted; empty when the filters are invalid."""
    qs = ChangeRecord.objects.restrict(actor, "view")
    return _filtered(qs, actor=actor, filters=filters, view=view)


def my_access_list(*, actor) -> QuerySet[AccessRecord]:
    """Reads of the signed-in patient's own record by other people, newest first.

    Not logged: a patient looking at their own access history reads nothing about anyone else.
    Their own reads (purpose "self") are left out: the page answers "who else looked"."""
    qs = AccessRecord.objects.restrict(actor, "view")
    return qs.exclude(actor_id=actor.public_id).order_by("-at", "-seq")


@dataclass(frozen=True)
class BreakGlassReason:
    at: datetime
    reason: str


def break_glass_reasons(*, actor, records: Iterable[AccessRecord]) -> dict[int, str]:
    """For each break-glass row in `records`: the reason its reader gave when opening emergency
    access (the latest `patient.break_glass_opened` event by that reader, for that patient, at
    or before the read). Keyed by the access row's seq."""
    wanted = [r for r in records if r.purpose == Purpose.BREAK_GLASS and r.actor_id is not None]
    if not wanted:
        return {}
    events = (
        Event.objects.restrict(actor, "view")
        .filter(
            name=BREAK_GLASS_EVENT,
            actor_id__in={r.actor_id for r in wanted},
            patient_id__in={r.patient_id for r in wanted},
        )
        .order_by("at", "seq")
        .values_list("actor_id", "patient_id", "at", "data")
    )
    openings: dict[tuple[uuid.UUID | None, uuid.UUID | None], list[BreakGlassReason]]
    openings = defaultdict(list)
    for actor_id, patient_id, at, data in events:
        reason = data.get("reason", "") if isinstance(data, dict) else ""
        openings[(actor_id, patient_id)].append(BreakGlassReason(at=at, reason=str(reason)))
    reasons: dict[int, str] = {}
    for record in wanted:
        found = openings.get((record.actor_id, record.patient_id), [])
        index = bisect.bisect_right([o.at for o in found], record.at)
        if index:
            reasons[record.seq] = found[index - 1].reason
    return reasons


# --- narrow reads for other apps (they may not import audit.models) ------------------------------
ACCOUNT_EVENT_PREFIX = "user."


def account_security_event_list(*, limit: int = 10) -> list[Event]:
    """The latest high-priority account events (lockouts, deactivations), never one tied to a
    patient. The caller decides who may see them (accounts lets clinic administrators, who must
    act on them); the audit policy itself keeps Events to auditors."""
    return list(
        Event.objects.filter(
            name__startswith=ACCOUNT_EVENT_PREFIX, priority=Priority.HIGH, patient_id__isnull=True
        )
        .only("seq", "at", "name", "actor_label", "object_id", "data")
        .order_by("-seq")[:limit]
    )


def merge_event_latest(*, duplicate_public_id: uuid.UUID | str) -> Event | None:
    """The latest `patient.merged` event that merged `duplicate_public_id` away, for undoing the
    merge (patients.services.patient_unmerge checks the actor may merge before calling)."""
    return (
        Event.objects.filter(name="patient.merged", data__duplicate=str(duplicate_public_id))
        .order_by("-seq")
        .first()
    )

"""Audit rows for tests, written through the real services so they are chained like real rows."""

from __future__ import annotations

import uuid

from carehub.audit import services
from carehub.audit.choices import AccessCategory, Priority, Purpose
from carehub.audit.models import AccessRecord, Event


def access_row(
    *,
    actor,
    patient_id: uuid.UUID,
    category: str = AccessCategory.DEMOGRAPHICS,
    purpose: str = Purpose.CARE,
    view: str = "patients:detail",
) -> AccessRecord:
    return services.access_record(
        actor=actor, patient_ids=[patient_id], category=category, purpose=purpose, view=view
    )[0]


def event_row(
    *,
    actor=None,
    name: str = "user.logged_in",
    patient_id=None,
    priority=Priority.NORMAL,
    data=None,
) -> Event:
    return services.event_record(
        actor=actor, name=name, patient_id=patient_id, priority=priority, data=data
    )

"""Reads of health records. Each read starts from the policy-restricted queryset (through the
patient: own record, care relationship or break-glass) and writes one access row per chart
section read, so the patient and the auditor see exactly what was opened."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.audit.choices import AccessCategory
from carehub.core.exceptions import Forbidden, NotFound
from carehub.patients import selectors as patients
from carehub.records.choices import ClinicalStatus, EntryStatus, MedicationStatus
from carehub.records.models import (
    AllergyIntolerance,
    Amendment,
    ClinicalEntry,
    Condition,
    Encounter,
    MedicationRequest,
    Observation,
)

READ_ROLES = CLINICIAN_ROLES | {Role.PATIENT}
VITAL_CODES = ("8480-6", "8462-4", "8867-4", "8310-5", "9279-1", "59408-5", "29463-7")
TREND_POINTS = 10


def _patient(actor, public_id: uuid.UUID | str, view: str):
    if actor.role not in READ_ROLES:
        raise Forbidden("Clinical records are for the patient and their clinicians.")
    # view_clinical: the patient themselves, or a clinician in their care / under break-glass;
    # anyone else gets NotFound, never a hint that the record exists.
    return patients.patient_get(
        actor=actor,
        public_id=public_id,
        category=AccessCategory.DEMOGRAPHICS,
        view=view,
        action="view_clinical",
    )


@dataclass
class Trend:
    code: str
    display: str
    unit: str
    latest: Observation
    points: list[tuple[datetime, float]] = field(default_factory=list)


@dataclass
class Summary:
    patient: Any
    problems: list[Condition]
    allergies: list[AllergyIntolerance]
    medications: list[MedicationRequest]
    vitals: list[Trend]
    encounters: list[Encounter]


def _current(qs: QuerySet) -> QuerySet:
    return qs.filter(status=EntryStatus.CURRENT)


def patient_summary(*, actor, public_id: uuid.UUID | str, view: str = "") -> Summary:
    """The chart's first screen: active problems, allergies, current medications, latest vitals
    with their recent trend, and the last encounters. A fixed number of queries, whatever the
    length of the history."""
    patient = _patient(actor, public_id, view)
    problems = list(
        _current(
            Condition.objects.filter(patient=patient, clinical_status=ClinicalStatus.ACTIVE)
        ).order_by("-onset_date", "-created_at")
    )
    allergies = list(
        _current(AllergyIntolerance.objects.filter(patient=patient)).order_by("substance")
    )
    medications = list(
        _current(
            MedicationRequest.objects.filter(
                patient=patient, medication_status=MedicationStatus.ACTIVE
            )
        ).order_by("drug")
    )
    # The last TREND_POINTS values of each vital sign: one query per code keeps each query on
    # the (patient, code, -effective_at) index and bounded, however many years are stored.
    vitals: list[Trend] = []
    for code in VITAL_CODES:
        rows = list(
            _current(Observation.objects.filter(patient=patient, code=code))
            .order_by("-effective_at")
            .only(
                "code",
                "display",
                "unit",
                "value",
                "effective_at",
                "interpretation",
                "public_id",
                "reference_low",
                "reference_high",
            )[:TREND_POINTS]
        )
        if rows:
            vitals.append(
                Trend(
                    code=code,
                    display=rows[0].display,
                    unit=rows[0].unit,
                    latest=rows[0],
                    points=[(o.effective_at, float(o.value)) for o in reversed(rows)],
                )
            )
    encounters = list(
        _current(Encounter.objects.filter(patient=patient))
        .select_related("practitioner")
        .order_by("-started_at")[:5]
    )
    for category in (
        AccessCategory.PROBLEMS,
        AccessCategory.ALLERGIES,
        AccessCategory.MEDICATIONS,
        AccessCategory.OBSERVATIONS,
        AccessCategory.ENCOUNTERS,
    ):
        patients.log_access(actor=actor, patients=[patient], category=category, view=view)
    return Summary(patient, problems, allergies, medications, vitals, encounters)


@dataclass(frozen=True)
class Version:
    version: int
    values: dict[str, Any]
    changed_by: Any
    changed_at: datetime
    reason: str  # why the NEXT version replaced this one ("" for the current version)


def entry_history(*, actor, entry: ClinicalEntry, view: str = "") -> list[Version]:
    """Every version of an entry, newest first, with who replaced each and why."""
    model = type(entry)
    if not model.objects.restrict(actor, "view").filter(pk=entry.pk).exists():
        raise NotFound("No such entry.")
    rows = list(
        Amendment.objects.restrict(actor, "view")
        .filter(entry_model=entry._meta.label_lower, entry_id=entry.public_id)
        .select_related("amended_by")
        .order_by("-version")
    )
    current = Version(
        version=entry.version,
        values={n: getattr(entry, n) for n in (*entry.AMENDABLE, "status")},
        changed_by=rows[0].amended_by if rows else entry.recorded_by,
        changed_at=rows[0].created_at if rows else entry.created_at,
        reason="",
    )
    older = [
        Version(
            version=row.version,
            values=json.loads(row.previous),
            changed_by=row.amended_by,
            changed_at=row.created_at,
            reason=row.reason,
        )
        for row in rows
    ]
    patients.log_access(
        actor=actor, patients=[entry.patient], category=AccessCategory.HISTORY, view=view
    )
    return [current, *older]

"""Writing health records: open an encounter, write notes, record vitals and results, add
problems and allergies, prescribe (with allergy and duplicate-therapy warnings), amend any entry
with a reason, and mark an entry entered-in-error. Nothing here deletes clinical data."""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from carehub.core.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from carehub.directory import selectors as directory
from carehub.patients import selectors as patients
from carehub.records import codes
from carehub.records.choices import Criticality, EntryStatus, Interpretation, MedicationStatus
from carehub.records.models import (
    AllergyIntolerance,
    Amendment,
    ClinicalEntry,
    ClinicalNote,
    Condition,
    Encounter,
    MedicationRequest,
    Observation,
)
from carehub.records.policies import WRITE_ROLES


def _writable_patient(actor, patient_public_id: uuid.UUID | str):
    if actor.role not in WRITE_ROLES:
        raise Forbidden("Only doctors and nurses write clinical records.")
    return patients.patient_ref_get(
        actor=actor, public_id=patient_public_id, action="view_clinical"
    )


def _practitioner(actor):
    practitioner = directory.practitioner_of_user(user=actor)
    if practitioner is None:
        raise Forbidden("Your account has no practitioner profile.")
    return practitioner


@transaction.atomic
def encounter_open(
    *,
    actor,
    patient_public_id: uuid.UUID | str,
    mode: str,
    reason: str = "",
    appointment: Any = None,
    started_at: datetime.datetime | None = None,
) -> Encounter:
    """Start a visit, in person or by video; from an appointment when there is one."""
    patient = _writable_patient(actor, patient_public_id)
    if appointment is not None and appointment.patient_id != patient.pk:
        raise ValidationFailed("That appointment is another patient's.")
    return Encounter.objects.create(
        patient=patient,
        recorded_by=actor,
        practitioner=_practitioner(actor),
        appointment=appointment,
        mode=mode,
        reason=reason.strip(),
        started_at=started_at or timezone.now(),
    )


@transaction.atomic
def note_write(
    *,
    actor,
    encounter: Encounter,
    subjective: str = "",
    objective: str = "",
    assessment: str = "",
    plan: str = "",
) -> ClinicalNote:
    """A SOAP note on an encounter; at least one section must say something."""
    _writable_patient(actor, encounter.patient.public_id)
    sections = {"subjective": subjective, "objective": objective, "assessment": assessment,
                "plan": plan}  # fmt: skip
    if not any(v.strip() for v in sections.values()):
        raise ValidationFailed("Write at least one section of the note.")
    return ClinicalNote.objects.create(
        patient=encounter.patient,
        recorded_by=actor,
        encounter=encounter,
        **{k: v.strip() for k, v in sections.items()},
    )


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(
            f"{field} must be a number.", field_errors={field: ["Must be a number."]}
        ) from exc
    if not number.is_finite():
        raise ValidationFailed(f"{field} must be a number.", field_errors={field: ["Not finite."]})
    return number


@transaction.atomic
def observation_record(
    *,
    actor,
    patient_public_id: uuid.UUID | str,
    code: str,
    value: Any,
    unit: str = "",
    effective_at: datetime.datetime | None = None,
    encounter: Encounter | None = None,
    display: str = "",
    reference_low: Any = None,
    reference_high: Any = None,
) -> Observation:
    """A vital sign or lab value; known LOINC codes fill in name, unit and reference range,
    and the value is flagged high or low against the range."""
    patient = _writable_patient(actor, patient_public_id)
    known = codes.LOINC.get(code)
    if known is None and not (display and unit):
        raise ValidationFailed(
            "Unknown code: give its name and unit.", field_errors={"code": ["Unknown LOINC code."]}
        )
    number = _decimal(value, "value")
    low = _decimal(reference_low, "reference_low") if reference_low not in (None, "") else None
    high = _decimal(reference_high, "reference_high") if reference_high not in (None, "") else None
    if known is not None:
        display = display or known.display
        if unit and unit != known.unit:
            raise ValidationFailed(
                f"{known.display} is recorded in {known.unit}.",
                field_errors={"unit": [f"Use {known.unit}."]},
            )
        unit = known.unit
        low = low if low is not None else known.low
        high = high if high is not None else known.high
        if not (known.minimum <= number <= known.maximum):
            raise ValidationFailed(
                f"{number} {unit} is not a possible {known.display.lower()}.",
                field_errors={"value": ["Out of the possible range."]},
            )
    interpretation = Interpretation.NORMAL
    if high is not None and number > high:
        interpretation = Interpretation.HIGH
    elif low is not None and number < low:
        interpretation = Interpretation.LOW
    return Observation.objects.create(
        patient=patient,
        recorded_by=actor,
        encounter=encounter,
        code=code,
        display=display,
        value=number,
        unit=unit,
        reference_low=low,
        reference_high=high,
        interpretation=interpretation,
        effective_at=effective_at or timezone.now(),
    )


@transaction.atomic
def condition_add(
    *,
    actor,
    patient_public_id: uuid.UUID | str,
    code: str,
    onset_date: datetime.date | None = None,
    note: str = "",
    encounter: Encounter | None = None,
) -> Condition:
    """Add a problem to the list, by ICD-10 code (checked against the offline code table)."""
    patient = _writable_patient(actor, patient_public_id)
    code = code.strip().upper()
    display = codes.icd10_description(code)
    if display is None:
        raise ValidationFailed(
            f"{code or 'That'} is not an ICD-10 code.", field_errors={"code": ["Unknown code."]}
        )
    return Condition.objects.create(
        patient=patient,
        recorded_by=actor,
        encounter=encounter,
        code=code,
        display=display,
        onset_date=onset_date,
        note=note.strip(),
    )


@transaction.atomic
def allergy_add(
    *,
    actor,
    patient_public_id: uuid.UUID | str,
    substance: str,
    reaction: str = "",
    criticality: str = Criticality.LOW,
) -> AllergyIntolerance:
    patient = _writable_patient(actor, patient_public_id)
    substance = substance.strip()
    if not substance:
        raise ValidationFailed("Name the substance.", field_errors={"substance": ["Required."]})
    return AllergyIntolerance.objects.create(
        patient=patient,
        recorded_by=actor,
        substance=substance,
        reaction=reaction.strip(),
        criticality=criticality,
    )


@dataclass(frozen=True)
class Warning:
    kind: str  # "allergy" or "duplicate"
    message: str


def prescription_warnings(*, patient, drug: str) -> list[Warning]:
    """What a prescriber must see before prescribing `drug` to `patient`."""
    warnings: list[Warning] = []
    families = codes.drug_families(drug)
    for allergy in AllergyIntolerance.objects.filter(
        patient=patient, status=EntryStatus.CURRENT
    ).only("substance", "criticality"):
        if codes.drug_families(allergy.substance) & families:
            warnings.append(
                Warning(
                    "allergy",
                    f"Allergy recorded to {allergy.substance} "
                    f"({allergy.get_criticality_display().lower()} criticality).",
                )
            )
    today = timezone.localdate()
    for rx in MedicationRequest.objects.filter(
        patient=patient,
        status=EntryStatus.CURRENT,
        medication_status=MedicationStatus.ACTIVE,
    ).only("drug", "start_date", "duration_days"):
        if rx.start_date + datetime.timedelta(days=rx.duration_days) < today:
            continue
        if codes.drug_families(rx.drug) & families:
            warnings.append(Warning("duplicate", f"Already taking {rx.drug} (same therapy)."))
    return warnings


@transaction.atomic
def prescription_issue(
    *,
    actor,
    patient_public_id: uuid.UUID | str,
    drug: str,
    strength: str,
    dose: str,
    times: list[str],
    duration_days: int,
    route: str = "oral",
    refills: int = 0,
    instructions: str = "",
    start_date: datetime.date | None = None,
    encounter: Encounter | None = None,
    acknowledge_warnings: bool = False,
) -> MedicationRequest:
    """Prescribe. Allergy and duplicate-therapy warnings refuse the prescription (409 with the
    warnings) until the prescriber acknowledges them."""
    patient = _writable_patient(actor, patient_public_id)
    errors: dict[str, list[str]] = {}
    if not isinstance(drug, str) or not drug.strip():
        errors["drug"] = ["Required."]
    if (
        not isinstance(times, list | tuple)
        or not times
        or any(not codes.TIME.fullmatch(str(t)) for t in times)
    ):
        errors["times"] = ['Give times of day as "HH:MM".']
    days, repeats = _whole(duration_days), _whole(refills)
    if days is None or days < 1:
        errors["duration_days"] = ["A whole number of days, at least one."]
    if repeats is None or not 0 <= repeats <= 12:
        errors["refills"] = ["A whole number from 0 to 12."]
    if errors:
        raise ValidationFailed("The prescription has invalid fields.", field_errors=errors)
    assert days is not None and repeats is not None
    warnings = prescription_warnings(patient=patient, drug=drug)
    if warnings and not acknowledge_warnings:
        raise Conflict(
            "Check the warnings before prescribing.",
            warnings=[{"kind": w.kind, "message": w.message} for w in warnings],
        )
    return MedicationRequest.objects.create(
        patient=patient,
        recorded_by=actor,
        encounter=encounter,
        drug=drug.strip(),
        strength=strength.strip(),
        dose=dose.strip(),
        route=route,
        times=sorted(set(times)),
        duration_days=days,
        refills=repeats,
        instructions=instructions.strip(),
        start_date=start_date or timezone.localdate(),
    )


def _whole(value: Any) -> int | None:
    """A whole number from an int or its digits, else None (never a ValueError)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _snapshot(entry: ClinicalEntry) -> str:
    return json.dumps(
        {name: getattr(entry, name) for name in (*entry.AMENDABLE, "status")},
        cls=DjangoJSONEncoder,
    )


@transaction.atomic
def entry_amend(
    *, actor, entry: ClinicalEntry, changes: dict[str, Any], reason: str
) -> ClinicalEntry:
    """Correct an entry: the version before the change is kept (with who, when and why) and
    the entry's version goes up by one."""
    locked = _locked_entry(actor, entry)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "Say why the entry is changed.", field_errors={"reason": ["Required."]}
        )
    unknown = sorted(set(changes) - set(type(entry).AMENDABLE))
    if unknown:
        raise ValidationFailed(f"These cannot be amended: {', '.join(unknown)}.")
    if locked.status == EntryStatus.ENTERED_IN_ERROR:
        raise Conflict("This entry was marked entered in error; record a new one instead.")
    if all(getattr(locked, k) == v for k, v in changes.items()):
        raise ValidationFailed("Nothing would change.")
    _keep(actor, locked, reason)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.version += 1
    locked.full_clean(exclude=["patient", "recorded_by"])
    locked.save()
    return locked


@transaction.atomic
def entry_mark_entered_in_error(*, actor, entry: ClinicalEntry, reason: str) -> ClinicalEntry:
    """An entry that should never have been made stays readable, marked entered-in-error."""
    locked = _locked_entry(actor, entry)
    if not reason.strip():
        raise ValidationFailed(
            "Say why the entry is wrong.", field_errors={"reason": ["Required."]}
        )
    if locked.status == EntryStatus.ENTERED_IN_ERROR:
        raise Conflict("This entry is already marked entered in error.")
    _keep(actor, locked, reason.strip())
    locked.status = EntryStatus.ENTERED_IN_ERROR
    locked.version += 1
    locked.save()
    return locked


def _locked_entry(actor, entry: ClinicalEntry) -> ClinicalEntry:
    """The entry's row, locked, if `actor` may change it (else Forbidden or NotFound)."""
    if actor.role not in WRITE_ROLES:
        raise Forbidden("Only doctors and nurses amend clinical records.")
    model = type(entry)
    try:
        return (
            model.objects.restrict(actor, "change").select_for_update(of=("self",)).get(pk=entry.pk)
        )
    except model.DoesNotExist as exc:
        raise NotFound("No such entry.") from exc


def _keep(actor, entry: ClinicalEntry, reason: str) -> None:
    Amendment.objects.create(
        patient_id=entry.patient_id,
        entry_model=entry._meta.label_lower,
        entry_id=entry.public_id,
        version=entry.version,
        previous=_snapshot(entry),
        reason=reason[:300],
        amended_by=actor,
    )

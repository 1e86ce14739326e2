"""Writes to the patient master record: registration, updates, consents, care team, break-glass,
duplicate review and merge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES
from carehub.audit import services as audit
from carehub.audit.choices import Priority
from carehub.core import policies
from carehub.core.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from carehub.patients import matching
from carehub.patients.choices import ConsentKind, DuplicateStatus, RelationshipSource
from carehub.patients.models import (
    BreakGlassGrant,
    CareRelationship,
    Consent,
    DuplicateCandidate,
    MrnSequence,
    Patient,
)

DEMOGRAPHIC_FIELDS = (
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "address_line",
    "city",
    "postal_code",
    "country",
    "preferred_language",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
    "reminder_channel",
    "national_id",
)
# What a patient may change about themselves; identity fields go through reception.
IDENTITY_FIELDS = ("given_name", "family_name", "birth_date", "sex", "email", "national_id")
SELF_SERVICE_FIELDS = tuple(f for f in DEMOGRAPHIC_FIELDS if f not in IDENTITY_FIELDS)


def _require(actor, action: str, patient: Patient) -> None:
    if not policies.can(actor, action, patient):
        raise NotFound("No such patient.")


def mrn_next(*, site) -> str:
    """Take the next medical record number of `site` (caller holds a transaction)."""
    seq, _ = MrnSequence.objects.get_or_create(site=site)
    seq = MrnSequence.objects.select_for_update().get(pk=seq.pk)
    value = seq.next_value
    seq.next_value = value + 1
    seq.save(update_fields=["next_value"])
    return f"{site.code.upper()}-{value:06d}"


def _validate_demographics(data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("given_name", "family_name"):
        if name in data and not str(data[name] or "").strip():
            errors[name] = ["This field is required."]
    birth = data.get("birth_date")
    if birth is not None:
        if not isinstance(birth, date):
            errors["birth_date"] = ["Enter a valid date."]
        elif birth > timezone.localdate():
            errors["birth_date"] = ["The birth date cannot be in the future."]
        elif birth.year < 1900:
            errors["birth_date"] = ["Enter a birth date after 1900."]
    if errors:
        raise ValidationFailed("Some details are not valid.", field_errors=errors)


def registration_validate(**data: Any) -> dict[str, Any]:
    """The demographic fields of a registration, or ValidationFailed naming every bad field.
    Forms call it in clean() so that nothing is written when the details are refused."""
    fields = {k: v for k, v in data.items() if k in DEMOGRAPHIC_FIELDS}
    missing = {
        name: ["This field is required."]
        for name in ("given_name", "family_name", "birth_date")
        if not fields.get(name)
    }
    if missing:
        raise ValidationFailed("Some details are missing.", field_errors=missing)
    _validate_demographics(fields)
    return fields


@dataclass(frozen=True)
class Registration:
    patient: Patient
    duplicates: list[DuplicateCandidate]


@transaction.atomic
def patient_register(*, actor, site, user=None, **data: Any) -> Registration:
    """Create a patient record with a new MRN and flag possible duplicates for review."""
    if not _can_register(actor, user):
        raise Forbidden("You may not register patients.")
    fields = registration_validate(**data)
    patient = Patient(site=site, user=user, mrn=mrn_next(site=site), **fields)
    patient.full_clean(exclude=["mrn", "user", "site"])
    patient.save()
    duplicates = duplicates_detect(patient=patient)
    audit.event_record(
        actor=actor,
        name="patient.registered",
        patient_id=patient.public_id,
        obj=patient,
        data={"possible_duplicates": len(duplicates)},
    )
    return Registration(patient=patient, duplicates=duplicates)


def _can_register(actor, user) -> bool:
    """Reception and administrators register anyone; a patient registers only themselves;
    actor None is the system (sign-up flow, demo data)."""
    from carehub.patients.policies import ADMINISTRATIVE_ROLES

    if actor is None:
        return True
    if actor.role == "patient":
        return user is not None and user.pk == actor.pk
    return actor.role in ADMINISTRATIVE_ROLES


def duplicates_detect(*, patient: Patient) -> list[DuplicateCandidate]:
    """Record every existing active record that may be the same person as `patient`."""
    found = []
    others = Patient.objects.filter(
        birth_date=patient.birth_date, merged_into__isnull=True
    ).exclude(pk=patient.pk)
    for other in others:
        match = matching.compare(patient, other)
        if match is None:
            continue
        candidate, _ = DuplicateCandidate.objects.get_or_create(
            patient=patient,
            other=other,
            defaults={"score": match.score, "reasons": list(match.reasons)},
        )
        found.append(candidate)
    return found


@transaction.atomic
def patient_update(*, actor, patient: Patient, **data: Any) -> Patient:
    """Change demographic details; patients may change only their contact details."""
    _require(actor, "change", patient)
    allowed = SELF_SERVICE_FIELDS if actor.role == "patient" else DEMOGRAPHIC_FIELDS
    refused = sorted(set(data) - set(allowed))
    if refused:
        raise Forbidden(
            "Some of these details can only be changed by reception: " + ", ".join(refused)
        )
    _validate_demographics(data)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.merged_into_id:
        raise Conflict("This record has been merged into another one; change that record instead.")
    for key, value in data.items():
        setattr(patient, key, value)
    patient.full_clean(exclude=["user", "site", "mrn"])
    patient.save()
    return patient


@transaction.atomic
def consent_set(*, actor, patient: Patient, kind: str, granted: bool) -> Consent:
    """Record a patient's current answer for one kind of consent."""
    _require(actor, "change", patient)
    consent = Consent.objects.select_for_update().filter(patient=patient, kind=kind).first()
    return _consent_write(actor, patient, consent, kind, granted)


def _consent_write(
    actor, patient: Patient, consent: Consent | None, kind: str, granted: bool
) -> Consent:
    if consent is None:
        consent = Consent(patient=patient, kind=kind, granted=granted, recorded_by=actor)
    else:
        consent.granted = granted
        consent.recorded_by = actor
    consent.full_clean(exclude=["patient", "recorded_by"])
    consent.save()
    return consent


@transaction.atomic
def consents_update(*, actor, patient: Patient, answers: dict[str, bool]) -> list[Consent]:
    """Record a patient's answers to several kinds of consent; unchanged answers write nothing
    (a kind never answered counts as not given)."""
    _require(actor, "change", patient)
    unknown = sorted(set(answers) - set(ConsentKind.values))
    if unknown:
        raise ValidationFailed("Unknown kind of consent: " + ", ".join(unknown))
    current = {c.kind: c for c in Consent.objects.select_for_update().filter(patient=patient)}
    return [
        _consent_write(actor, patient, current.get(kind), kind, granted)
        for kind, granted in answers.items()
        if (current[kind].granted if kind in current else False) != granted
    ]


@transaction.atomic
def care_relationship_ensure(
    *, actor, practitioner, patient: Patient, source: str = RelationshipSource.ASSIGNED
) -> CareRelationship:
    """Make sure `practitioner` looks after `patient` (booking passes source=appointment)."""
    if source == RelationshipSource.ASSIGNED and actor.role not in {"receptionist", "clinic_admin"}:
        raise Forbidden("Only reception or an administrator can assign a care relationship.")
    existing = CareRelationship.objects.filter(
        practitioner=practitioner, patient=patient, ended_at__isnull=True
    ).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            rel = CareRelationship.objects.create(
                practitioner=practitioner, patient=patient, source=source, created_by=actor
            )
    except IntegrityError:
        # Two first bookings at once: the other one created it (one active per pair).
        return CareRelationship.objects.get(
            practitioner=practitioner, patient=patient, ended_at__isnull=True
        )
    audit.event_record(
        actor=actor,
        name="care_relationship.started",
        patient_id=patient.public_id,
        obj=rel,
        data={"source": source},
    )
    return rel


@transaction.atomic
def care_relationship_end(*, actor, relationship: CareRelationship) -> CareRelationship:
    if actor.role not in {"receptionist", "clinic_admin"}:
        raise Forbidden("Only reception or an administrator can end a care relationship.")
    relationship.ended_at = timezone.now()
    relationship.save(update_fields=["ended_at", "updated_at"])
    return relationship


@transaction.atomic
def break_glass_open(*, actor, patient_public_id, reason: str) -> BreakGlassGrant:
    """Emergency access to any patient for BREAK_GLASS_MINUTES, with a reason, audited high."""
    if actor.role not in CLINICIAN_ROLES:
        raise Forbidden("Only clinicians can use emergency access.")
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationFailed(
            "Give the reason for emergency access.",
            field_errors={"reason": ["Give a reason of at least 10 characters."]},
        )
    patient = (
        Patient.objects.restrict(actor, "break_glass")
        .filter(public_id=patient_public_id, merged_into__isnull=True, is_active=True)
        .first()
    )
    if patient is None:
        raise NotFound("No such patient.")
    grant = BreakGlassGrant.objects.create(
        user=actor,
        patient=patient,
        reason=reason[:2000],
        expires_at=timezone.now() + timedelta(minutes=settings.BREAK_GLASS_MINUTES),
    )
    audit.event_record(
        actor=actor,
        name="patient.break_glass_opened",
        patient_id=patient.public_id,
        obj=grant,
        priority=Priority.HIGH,
        data={"reason": grant.reason, "expires_at": grant.expires_at.isoformat()},
    )
    return grant


@transaction.atomic
def duplicate_dismiss(*, actor, candidate: DuplicateCandidate) -> DuplicateCandidate:
    if not DuplicateCandidate.objects.restrict(actor, "change").filter(pk=candidate.pk).exists():
        raise Forbidden("Only an administrator can review duplicates.")
    candidate.status = DuplicateStatus.DISMISSED
    candidate.resolved_by = actor
    candidate.resolved_at = timezone.now()
    candidate.save()
    return candidate


# Relations that record history about a record rather than belong to it: never re-pointed.
_MERGE_SKIP = {
    ("patients.duplicatecandidate", "patient"),
    ("patients.duplicatecandidate", "other"),
    ("patients.patient", "merged_into"),
}


def _pointing_relations():
    for rel in Patient._meta.related_objects:
        # Reverse sides of foreign keys (one_to_many) and one-to-one fields pointing at Patient.
        if not (rel.one_to_many or rel.one_to_one):
            continue
        key = (rel.related_model._meta.label_lower, rel.field.name)
        if key in _MERGE_SKIP:
            continue
        yield rel


@transaction.atomic
def patient_merge(*, actor, survivor: Patient, duplicate: Patient) -> Patient:
    """Fold `duplicate` into `survivor`: everything that points at the duplicate is re-pointed,
    the duplicate is marked merged, and the moves are recorded so `patient_unmerge` can undo it."""
    if not policies.can(actor, "merge", survivor) or not policies.can(actor, "merge", duplicate):
        raise Forbidden("Only an administrator can merge patient records.")
    if survivor.pk == duplicate.pk:
        raise ValidationFailed("Choose two different records.")
    survivor = Patient.objects.select_for_update().get(pk=survivor.pk)
    duplicate = Patient.objects.select_for_update().get(pk=duplicate.pk)
    if survivor.merged_into_id or duplicate.merged_into_id:
        raise Conflict("One of these records has already been merged.")
    if survivor.user_id and duplicate.user_id:
        raise Conflict(
            "Both records have their own sign-in account; deactivate one account before merging."
        )

    moved: list[dict[str, Any]] = []
    for rel in _pointing_relations():
        model = rel.related_model
        field = rel.field.name
        for obj in model._base_manager.filter(**{field: duplicate}).order_by("pk"):
            if not _can_move(obj, field, survivor):
                continue
            setattr(obj, field, survivor)
            obj.save()  # row by row so each move gets its own change record
            moved.append({"model": model._meta.label_lower, "pk": obj.pk, "field": field})
    user_moved = False
    if duplicate.user_id and not survivor.user_id:
        user = duplicate.user
        duplicate.user = None
        duplicate.save(update_fields=["user", "updated_at"])
        survivor.user = user
        survivor.save(update_fields=["user", "updated_at"])
        user_moved = True
    duplicate.merged_into = survivor
    duplicate.is_active = False
    duplicate.save(update_fields=["merged_into", "is_active", "updated_at"])
    for candidate in DuplicateCandidate.objects.filter(
        models.Q(patient=duplicate, other=survivor) | models.Q(patient=survivor, other=duplicate),
        status=DuplicateStatus.OPEN,
    ):
        candidate.status = DuplicateStatus.MERGED
        candidate.resolved_by = actor
        candidate.resolved_at = timezone.now()
        candidate.save()
    audit.event_record(
        actor=actor,
        name="patient.merged",
        patient_id=survivor.public_id,
        obj=survivor,
        priority=Priority.HIGH,
        data={
            "survivor": str(survivor.public_id),
            "duplicate": str(duplicate.public_id),
            "moved": moved,
            "user_moved": user_moved,
        },
    )
    return survivor


def _can_move(obj, field: str, survivor: Patient) -> bool:
    """False where moving would break a uniqueness rule; that row stays on the merged record."""
    if isinstance(obj, Consent):
        return not Consent.objects.filter(patient=survivor, kind=obj.kind).exists()
    if isinstance(obj, CareRelationship) and obj.ended_at is None:
        return not CareRelationship.objects.filter(
            patient=survivor, practitioner_id=obj.practitioner_id, ended_at__isnull=True
        ).exists()
    return True


@transaction.atomic
def patient_unmerge(*, actor, duplicate: Patient) -> Patient:
    """Undo a merge from what the `patient.merged` event recorded."""
    from django.apps import apps

    from carehub.audit import selectors as audit_selectors

    if not policies.can(actor, "merge", duplicate):
        raise Forbidden("Only an administrator can undo a merge.")
    duplicate = Patient.objects.select_for_update().get(pk=duplicate.pk)
    if duplicate.merged_into_id is None:
        raise Conflict("This record is not merged.")
    survivor = Patient.objects.select_for_update().get(pk=duplicate.merged_into_id)
    event = audit_selectors.merge_event_latest(duplicate_public_id=duplicate.public_id)
    if event is None:
        raise Conflict("The merge cannot be undone: its audit event is missing.")
    for move in event.data.get("moved", []):
        model = apps.get_model(move["model"])
        obj = model._base_manager.filter(pk=move["pk"]).first()
        if obj is not None and getattr(obj, f"{move['field']}_id") == survivor.pk:
            setattr(obj, move["field"], duplicate)
            obj.save()
    if event.data.get("user_moved") and survivor.user_id:
        user = survivor.user
        survivor.user = None
        survivor.save(update_fields=["user", "updated_at"])
        duplicate.user = user
    duplicate.merged_into = None
    duplicate.is_active = True
    duplicate.save()
    # Back in the review queue: the administrator decides again (usually "not a duplicate").
    for candidate in DuplicateCandidate.objects.filter(
        models.Q(patient=duplicate, other=survivor) | models.Q(patient=survivor, other=duplicate),
        status=DuplicateStatus.MERGED,
    ):
        candidate.status = DuplicateStatus.OPEN
        candidate.resolved_by = None
        candidate.resolved_at = None
        candidate.save()
    audit.event_record(
        actor=actor,
        name="patient.unmerged",
        patient_id=duplicate.public_id,
        obj=duplicate,
        priority=Priority.HIGH,
        data={
            "survivor": str(survivor.public_id),
            "duplicate": str(duplicate.public_id),
            "merge_event": event.seq,
        },
    )
    return duplicate

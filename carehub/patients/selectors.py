"""Reads of patient data. Every read starts from the policy-restricted queryset and writes the
access-log row for each patient whose data it returns."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.audit import services as audit
from carehub.audit.choices import AccessCategory, Purpose
from carehub.core.exceptions import NotFound
from carehub.patients.models import (
    BreakGlassGrant,
    CareRelationship,
    Consent,
    DuplicateCandidate,
    Patient,
)


def patient_ids_of_user(*, user) -> QuerySet:
    """Public ids of the patient records that belong to `user` (their own)."""
    return Patient.objects.filter(user=user).values("public_id")


def purpose_for(*, actor, patient: Patient) -> str:
    """Why `actor` may read `patient`: recorded with every access row."""
    if actor.role == Role.PATIENT:
        return Purpose.SELF
    if actor.role in CLINICIAN_ROLES:
        has_care = CareRelationship.objects.filter(
            practitioner__user=actor, patient=patient, ended_at__isnull=True
        ).exists()
        return Purpose.CARE if has_care else Purpose.BREAK_GLASS
    return Purpose.ADMINISTRATION


def _log(actor, patients: Iterable[Patient], category: str, view: str) -> None:
    patients = list(patients)
    if not patients:
        return
    if len(patients) == 1:
        purpose = purpose_for(actor=actor, patient=patients[0])
    else:
        purpose = Purpose.SELF if actor.role == Role.PATIENT else (
            Purpose.ADMINISTRATION if actor.role not in CLINICIAN_ROLES else Purpose.CARE
        )
    audit.access_record(
        actor=actor, patient_ids=[p.public_id for p in patients], category=category, purpose=purpose, view=view
    )


def patient_get(*, actor, public_id: uuid.UUID | str, category: str = AccessCategory.DEMOGRAPHICS,
                view: str = "", action: str = "view") -> Patient:
    """One patient `actor` may read, or NotFound (never 403: existence is not revealed)."""
    try:
        public_id = uuid.UUID(str(public_id))
        patient = Patient.objects.restrict(actor, action).select_related("site", "user").get(public_id=public_id)
    except (ValueError, Patient.DoesNotExist) as exc:
        raise NotFound("No such patient.") from exc
    _log(actor, [patient], category, view)
    return patient


def patient_of_user(*, user) -> Patient | None:
    """The signed-in patient's own record (not logged: reading one's own record is not an access
    by someone else, but pages that show it log through `patient_get`)."""
    return Patient.objects.filter(user=user, merged_into__isnull=True).select_related("site").first()


def patient_list(*, actor, search: str = "", view: str = "", limit: int = 50) -> list[Patient]:
    """Patients `actor` may see, optionally searched by name, MRN, email or phone."""
    qs = Patient.objects.restrict(actor, "view").filter(merged_into__isnull=True).select_related("site")
    search = search.strip()
    if search:
        terms = Q()
        for word in search.split():
            terms &= (
                Q(given_name__icontains=word) | Q(family_name__icontains=word) | Q(mrn__iexact=word)
                | Q(email__iexact=word) | Q(phone__icontains=word)
            )
        qs = qs.filter(terms)
    patients = list(qs.order_by("family_name", "given_name")[:limit])
    _log(actor, patients, AccessCategory.DEMOGRAPHICS, view)
    return patients


def consent_list(*, actor, patient: Patient, view: str = "") -> list[Consent]:
    consents = list(Consent.objects.restrict(actor, "view").filter(patient=patient).order_by("kind"))
    _log(actor, [patient], AccessCategory.CONSENTS, view)
    return consents


def care_team_list(*, actor, patient: Patient, view: str = "") -> list[CareRelationship]:
    rels = list(
        CareRelationship.objects.restrict(actor, "view")
        .filter(patient=patient, ended_at__isnull=True)
        .select_related("practitioner__user")
    )
    _log(actor, [patient], AccessCategory.CARE_TEAM, view)
    return rels


def my_patients(*, actor, view: str = "") -> list[Patient]:
    """Patients a clinician looks after (active care relationships)."""
    patients = list(
        Patient.objects.restrict(actor, "view")
        .filter(care_relationships__practitioner__user=actor, care_relationships__ended_at__isnull=True)
        .select_related("site")
        .order_by("family_name", "given_name")
        .distinct()[:200]
    )
    _log(actor, patients, AccessCategory.DEMOGRAPHICS, view)
    return patients


def break_glass_active(*, actor, patient: Patient) -> BreakGlassGrant | None:
    return BreakGlassGrant.objects.filter(user=actor, patient=patient, expires_at__gt=timezone.now()).first()


def duplicate_candidates_open(*, actor) -> QuerySet:
    return (
        DuplicateCandidate.objects.restrict(actor, "view")
        .filter(status="open")
        .select_related("patient", "other", "patient__site", "other__site")
        .order_by("-score", "-created_at")
    )

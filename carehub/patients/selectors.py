"""Reads of patient data. Every read starts from the policy-restricted queryset and writes the
access-log row for each patient whose data it returns."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Q, QuerySet
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.audit import services as audit
from carehub.audit.choices import AccessCategory, Purpose
from carehub.core.exceptions import NotFound
from carehub.patients import matching
from carehub.patients.choices import ConsentKind
from carehub.patients.models import (
    BreakGlassGrant,
    CareRelationship,
    Consent,
    DuplicateCandidate,
    Patient,
)
from carehub.patients.policies import ADMINISTRATIVE_ROLES


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


def _purposes(actor, patients: list[Patient]) -> dict[int, str]:
    """The purpose of each read, per patient (one query for clinicians, none otherwise)."""
    if actor.role == Role.PATIENT:
        return {p.pk: Purpose.SELF for p in patients}
    if actor.role in CLINICIAN_ROLES:
        cared = set(
            CareRelationship.objects.filter(
                practitioner__user=actor,
                ended_at__isnull=True,
                patient__in=[p.pk for p in patients],
            ).values_list("patient_id", flat=True)
        )
        # Without an active care relationship, a clinician can only be reading under break-glass.
        return {p.pk: Purpose.CARE if p.pk in cared else Purpose.BREAK_GLASS for p in patients}
    return {p.pk: Purpose.ADMINISTRATION for p in patients}


def _log(
    actor,
    patients: Iterable[Patient],
    category: str,
    view: str,
    purposes: Mapping[int, str] | None = None,
) -> None:
    patients = list(patients)
    if not patients:
        return
    purposes = purposes if purposes is not None else _purposes(actor, patients)
    by_purpose: dict[str, list[uuid.UUID]] = {}
    for p in patients:
        by_purpose.setdefault(purposes[p.pk], []).append(p.public_id)
    for purpose, ids in by_purpose.items():
        audit.access_record(
            actor=actor, patient_ids=ids, category=category, purpose=purpose, view=view
        )


def log_access(*, actor, patients: Iterable[Patient], category: str, view: str = "") -> None:
    """For other apps: `actor` has just read `category` data of `patients` (one row each, with
    the purpose worked out here: own record, care, break-glass or administration)."""
    _log(actor, patients, category, view)


def patient_get(
    *,
    actor,
    public_id: uuid.UUID | str,
    category: str = AccessCategory.DEMOGRAPHICS,
    view: str = "",
    action: str = "view",
) -> Patient:
    """One patient `actor` may read, or NotFound (never 403: existence is not revealed)."""
    try:
        public_id = uuid.UUID(str(public_id))
        patient = (
            Patient.objects.restrict(actor, action)
            .select_related("site", "user")
            .get(public_id=public_id)
        )
    except (ValueError, Patient.DoesNotExist) as exc:
        raise NotFound("No such patient.") from exc
    _log(actor, [patient], category, view)
    return patient


def patient_ref_get(*, actor, public_id: uuid.UUID | str, action: str = "change") -> Patient:
    """The record a write names, if `actor` may `action` it; NotFound otherwise. Shows nothing,
    so writes no access row (the write itself is recorded by the change log)."""
    try:
        return Patient.objects.restrict(actor, action).get(public_id=uuid.UUID(str(public_id)))
    except (ValueError, Patient.DoesNotExist) as exc:
        raise NotFound("No such patient.") from exc


def patient_of_user(*, user) -> Patient | None:
    """The signed-in patient's own record (not logged: reading one's own record is not an access
    by someone else, but pages that show it log through `patient_get`)."""
    return (
        Patient.objects.filter(user=user, merged_into__isnull=True).select_related("site").first()
    )


def _search_queryset(actor, search: str) -> QuerySet:
    qs = (
        Patient.objects.restrict(actor, "view")
        .filter(merged_into__isnull=True)
        .select_related("site")
    )
    search = search.strip()
    if search:
        terms = Q()
        for word in search.split():
            terms &= (
                Q(given_name__icontains=word)
                | Q(family_name__icontains=word)
                | Q(mrn__iexact=word)
                | Q(email__iexact=word)
                | Q(phone__icontains=word)
            )
        qs = qs.filter(terms)
    return qs.order_by("family_name", "given_name", "pk")


def patient_list(*, actor, search: str = "", view: str = "", limit: int = 50) -> list[Patient]:
    """Patients `actor` may see, optionally searched by name, MRN, email or phone."""
    patients = list(_search_queryset(actor, search)[:limit])
    _log(actor, patients, AccessCategory.DEMOGRAPHICS, view)
    return patients


def patient_page(
    *, actor, search: str = "", page: int | str = 1, page_size: int = 50, view: str = ""
) -> Page:
    """One page of `patient_list` (for the API); an out-of-range page is NotFound."""
    paginator = Paginator(_search_queryset(actor, search), page_size)
    try:
        page_obj = paginator.page(page)
    except InvalidPage as exc:
        raise NotFound("No such page.") from exc
    page_obj.object_list = list(page_obj.object_list)
    _log(actor, page_obj.object_list, AccessCategory.DEMOGRAPHICS, view)
    return page_obj


def consent_list(*, actor, patient: Patient, view: str = "") -> list[Consent]:
    consents = list(
        Consent.objects.restrict(actor, "view").filter(patient=patient).order_by("kind")
    )
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
        .filter(
            care_relationships__practitioner__user=actor, care_relationships__ended_at__isnull=True
        )
        .select_related("site")
        .order_by("family_name", "given_name")
        .distinct()[:200]
    )
    _log(actor, patients, AccessCategory.DEMOGRAPHICS, view)
    return patients


def break_glass_active(*, actor, patient: Patient) -> BreakGlassGrant | None:
    return BreakGlassGrant.objects.filter(
        user=actor, patient=patient, expires_at__gt=timezone.now()
    ).first()


def duplicate_candidates_open(*, actor) -> QuerySet:
    return (
        DuplicateCandidate.objects.restrict(actor, "view")
        .filter(status="open")
        .select_related("patient", "other", "patient__site", "other__site")
        .order_by("-score", "-created_at")
    )


# --- composed reads for the pages and the API ------------------------------------------------

BREAK_GLASS_HISTORY_DAYS = 30


@dataclass(frozen=True)
class ConsentRow:
    kind: str
    label: str
    granted: bool | None  # None: never answered
    updated_at: datetime | None


@dataclass(frozen=True)
class PatientOverview:
    """What a record page shows about one patient; building it writes the access rows."""

    patient: Patient
    consents: list[ConsentRow]
    care_team: list[CareRelationship]
    emergency_grant: BreakGlassGrant | None = None
    national_id_masked: str | None = None
    break_glass_recent: list[BreakGlassGrant] = field(default_factory=list)


def mask_identifier(value: str, *, visible: int = 3) -> str:
    """'AB123456C' -> '•••••56C': enough to confirm an identifier, not to copy it."""
    value = (value or "").strip()
    if not value:
        return ""
    tail = value[-visible:] if len(value) > visible else ""
    return "•" * 5 + tail


def _consent_rows(actor, patient: Patient) -> list[ConsentRow]:
    current = {c.kind: c for c in Consent.objects.restrict(actor, "view").filter(patient=patient)}
    rows = []
    for kind, label in ConsentKind.choices:
        consent = current.get(kind)
        rows.append(
            ConsentRow(
                kind=kind,
                label=str(label),
                granted=consent.granted if consent else None,
                updated_at=consent.updated_at if consent else None,
            )
        )
    return rows


def _care_team(actor, patient: Patient) -> list[CareRelationship]:
    return list(
        CareRelationship.objects.restrict(actor, "view")
        .filter(patient=patient, ended_at__isnull=True)
        .select_related("practitioner__user")
        .order_by("started_at")
    )


def _overview(actor, patient: Patient, view: str, **extra) -> PatientOverview:
    care_team = _care_team(actor, patient)
    if actor.role in CLINICIAN_ROLES:
        # The care team already says whether this is care or break-glass: no extra query.
        in_care = any(rel.practitioner.user_id == actor.pk for rel in care_team)
        purpose = Purpose.CARE if in_care else Purpose.BREAK_GLASS
        if not in_care:
            extra["emergency_grant"] = (
                BreakGlassGrant.objects.restrict(actor, "view")
                .filter(patient=patient, expires_at__gt=timezone.now())
                .order_by("-expires_at")
                .first()
            )
    else:
        purpose = Purpose.SELF if actor.role == Role.PATIENT else Purpose.ADMINISTRATION
    overview = PatientOverview(
        patient=patient, consents=_consent_rows(actor, patient), care_team=care_team, **extra
    )
    purposes = {patient.pk: purpose}
    categories = [AccessCategory.DEMOGRAPHICS, AccessCategory.CONSENTS, AccessCategory.CARE_TEAM]
    if overview.national_id_masked:
        categories.append(AccessCategory.IDENTIFIERS)
    for category in categories:
        _log(actor, [patient], category, view, purposes)
    return overview


def patient_overview(*, actor, public_id: uuid.UUID | str, view: str = "") -> PatientOverview:
    """A staff member's view of one record: demographics, consents and care team, plus the
    national id (masked) for reception and administrators only, and a clinician's open
    break-glass grant. NotFound if out of reach."""
    try:
        patient = (
            Patient.objects.restrict(actor, "view")
            .select_related("site", "merged_into")
            .get(public_id=uuid.UUID(str(public_id)))
        )
    except (ValueError, Patient.DoesNotExist) as exc:
        raise NotFound("No such patient.") from exc
    extra = {}
    if actor.role in ADMINISTRATIVE_ROLES and patient.national_id:
        extra["national_id_masked"] = mask_identifier(patient.national_id)
    return _overview(actor, patient, view, **extra)


def _own_record(actor) -> Patient:
    """The signed-in patient's live record, through the policy (NotFound without one)."""
    patient = (
        Patient.objects.restrict(actor, "view")
        .filter(merged_into__isnull=True)
        .select_related("site")
        .first()
    )
    if patient is None:
        raise NotFound("No patient record is linked to this account.")
    return patient


def patient_self_overview(*, actor, view: str = "") -> PatientOverview:
    """A patient's own record, with every break-glass opening of it in the last 30 days."""
    patient = _own_record(actor)
    since = timezone.now() - timedelta(days=BREAK_GLASS_HISTORY_DAYS)
    recent = list(
        BreakGlassGrant.objects.restrict(actor, "view")
        .filter(patient=patient, created_at__gte=since)
        .select_related("user")
        .order_by("-created_at")
    )
    return _overview(actor, patient, view, break_glass_recent=recent)


def patient_self_consents(*, actor, view: str = "") -> tuple[Patient, list[ConsentRow]]:
    """The signed-in patient's record and consent answers (consents access row, purpose self)."""
    patient = _own_record(actor)
    rows = _consent_rows(actor, patient)
    _log(actor, [patient], AccessCategory.CONSENTS, view)
    return patient, rows


def patient_self_get(*, actor, view: str = "") -> Patient:
    """The signed-in patient's own record (demographics access row, purpose self)."""
    patient = _own_record(actor)
    _log(actor, [patient], AccessCategory.DEMOGRAPHICS, view)
    return patient


@dataclass(frozen=True)
class PatientSearch:
    patients: list[Patient]
    # A clinician's exact-MRN hit on a record outside their care: shown only as name, birth date
    # and MRN with a way to request emergency access.
    emergency_match: Patient | None = None


def patient_search(*, actor, search: str, view: str = "", limit: int = 50) -> PatientSearch:
    """The staff search box. Nothing is listed before a search: browsing every record would
    log (and expose) far more than the task needs."""
    search = search.strip()
    if not search:
        return PatientSearch(patients=[])
    patients = patient_list(actor=actor, search=search, view=view, limit=limit)
    emergency = None
    if actor.role in CLINICIAN_ROLES and not any(
        p.mrn.casefold() == search.casefold() for p in patients
    ):
        emergency = patient_emergency_lookup(actor=actor, mrn=search, view=view)
    return PatientSearch(patients=patients, emergency_match=emergency)


def patient_emergency_lookup(*, actor, mrn: str, view: str = "") -> Patient | None:
    """A clinician finds a record outside their care by its exact MRN, to open break-glass.

    Only an exact MRN matches (no name or partial search), so a clinician cannot browse records
    they do not look after. The hit discloses name and birth date, so it is logged as a
    `demographics` read with purpose `break_glass`: it is the first step of emergency access
    and must show up, like the grant itself, to the patient and to the auditor (logging it as
    `administration` would hide a clinician's look-up among reception's routine reads)."""
    mrn = mrn.strip()
    if actor.role not in CLINICIAN_ROLES or not mrn or any(c.isspace() for c in mrn):
        return None
    patient = (
        Patient.objects.restrict(actor, "break_glass")
        .filter(mrn__iexact=mrn, merged_into__isnull=True, is_active=True)
        .select_related("site")
        .first()
    )
    if patient is None or Patient.objects.restrict(actor, "view").filter(pk=patient.pk).exists():
        return None
    _log(actor, [patient], AccessCategory.DEMOGRAPHICS, view, {patient.pk: Purpose.BREAK_GLASS})
    return patient


def break_glass_target(*, actor, public_id: uuid.UUID | str) -> bool:
    """Whether the record exists for emergency access (NotFound otherwise) and `actor` can
    already read it. Reads no patient data, so writes no access row."""
    try:
        patient = (
            Patient.objects.restrict(actor, "break_glass")
            .filter(merged_into__isnull=True, is_active=True)
            .get(public_id=uuid.UUID(str(public_id)))
        )
    except (ValueError, Patient.DoesNotExist) as exc:
        raise NotFound("No such patient.") from exc
    return Patient.objects.restrict(actor, "view").filter(pk=patient.pk).exists()


@dataclass(frozen=True)
class DuplicatePreview:
    patient: Patient
    score: float
    reasons: tuple[str, ...]


def duplicate_preview(*, actor, data: dict[str, Any], limit: int = 20) -> list[DuplicatePreview]:
    """Existing records that may be the person about to be registered, best match first.

    Writes no DuplicateCandidate (registration does that); it does write access rows for the
    records it returns, since they are shown to the receptionist."""
    birth_date = data.get("birth_date")
    if not birth_date:
        return []
    probe = Patient(
        **{k: data.get(k) or "" for k in ("given_name", "family_name", "phone", "email")},
        birth_date=birth_date,
    )
    found = []
    qs = (
        Patient.objects.restrict(actor, "add")
        .filter(birth_date=birth_date, merged_into__isnull=True)
        .select_related("site")
    )
    for other in qs:
        match = matching.compare(probe, other)
        if match is not None:
            found.append(DuplicatePreview(patient=other, score=match.score, reasons=match.reasons))
    found.sort(key=lambda d: (-d.score, d.patient.family_name, d.patient.given_name))
    found = found[:limit]
    _log(actor, [d.patient for d in found], AccessCategory.DEMOGRAPHICS, "patients:register")
    return found


@dataclass(frozen=True)
class ClinicianHome:
    practitioner: Any
    patients: list[Patient]
    grants: list[BreakGlassGrant]


def clinician_home(*, actor, view: str = "") -> ClinicianHome:
    """A clinician's patients (active care relationships), profile and open break-glass grants."""
    from carehub.directory import selectors as directory

    patients = list(
        Patient.objects.restrict(actor, "view")
        .filter(
            merged_into__isnull=True,
            pk__in=CareRelationship.objects.filter(
                practitioner__user=actor, ended_at__isnull=True
            ).values("patient_id"),
        )
        .select_related("site")
        .order_by("family_name", "given_name")[:200]
    )
    grants = list(
        BreakGlassGrant.objects.restrict(actor, "view")
        .filter(user=actor, expires_at__gt=timezone.now())
        .select_related("patient", "patient__site")
        .order_by("expires_at")
    )
    shown = {p.pk: p for p in patients}
    for grant in grants:
        shown.setdefault(grant.patient.pk, grant.patient)
    _log(actor, shown.values(), AccessCategory.DEMOGRAPHICS, view)
    return ClinicianHome(
        practitioner=directory.practitioner_of_user(user=actor), patients=patients, grants=grants
    )


@dataclass(frozen=True)
class DuplicateReview:
    candidates: list[DuplicateCandidate]
    merged: list[Patient]


def duplicate_review(*, actor, view: str = "", limit: int = 100) -> DuplicateReview:
    """Open duplicate candidates between two live records, and the most recent merges."""
    candidates = list(
        duplicate_candidates_open(actor=actor).filter(
            patient__merged_into__isnull=True, other__merged_into__isnull=True
        )[:limit]
    )
    merged = list(
        Patient.objects.restrict(actor, "merge")
        .filter(merged_into__isnull=False)
        .select_related("site", "merged_into", "merged_into__site")
        .order_by("-updated_at")[:20]
    )
    shown: dict[int, Patient] = {}
    for c in candidates:
        shown.setdefault(c.patient.pk, c.patient)
        shown.setdefault(c.other.pk, c.other)
    for p in merged:
        shown.setdefault(p.pk, p)
        if p.merged_into is not None:  # always, given merged_into__isnull=False above
            shown.setdefault(p.merged_into.pk, p.merged_into)
    _log(actor, shown.values(), AccessCategory.DEMOGRAPHICS, view)
    return DuplicateReview(candidates=candidates, merged=merged)


def duplicate_candidate_get(*, actor, public_id: uuid.UUID | str) -> DuplicateCandidate:
    try:
        return duplicate_candidates_open(actor=actor).get(public_id=uuid.UUID(str(public_id)))
    except (ValueError, DuplicateCandidate.DoesNotExist) as exc:
        raise NotFound("No such duplicate candidate.") from exc


def merge_pair_get(
    *, actor, survivor_id: uuid.UUID | str, duplicate_id: uuid.UUID | str
) -> tuple[Patient, Patient]:
    """The two records of a merge, if `actor` may merge them. No data is shown, so no access row
    (the merge itself is recorded as an event and change rows)."""
    try:
        ids = [uuid.UUID(str(survivor_id)), uuid.UUID(str(duplicate_id))]
    except ValueError as exc:
        raise NotFound("No such patient.") from exc
    found = {
        p.public_id: p for p in Patient.objects.restrict(actor, "merge").filter(public_id__in=ids)
    }
    if any(i not in found for i in ids):
        raise NotFound("No such patient.")
    return found[ids[0]], found[ids[1]]


def merged_patient_get(*, actor, public_id: uuid.UUID | str) -> Patient:
    """A merged record `actor` may unmerge (no data shown, no access row)."""
    try:
        return (
            Patient.objects.restrict(actor, "merge")
            .filter(merged_into__isnull=False)
            .get(public_id=uuid.UUID(str(public_id)))
        )
    except (ValueError, Patient.DoesNotExist) as exc:
        raise NotFound("No such merged record.") from exc

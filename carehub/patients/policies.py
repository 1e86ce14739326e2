"""Who may reach which patient. Deny by default; access follows role AND relationship.

- a patient: their own record only;
- a doctor or nurse: patients with an active care relationship, or an unexpired break-glass grant;
  action "break_glass" (finding a record by exact MRN to request emergency access) reaches any;
- a receptionist or clinic administrator: demographic (administrative) data of every patient —
  never clinical content, which later apps guard with `clinical_patients`;
- an auditor: no patient record (they read the audit trail instead)."""

from django.db.models import Q
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.core import policies
from carehub.patients.models import (
    BreakGlassGrant,
    CareRelationship,
    Consent,
    DuplicateCandidate,
    Patient,
)

ADMINISTRATIVE_ROLES = frozenset({Role.RECEPTIONIST, Role.CLINIC_ADMIN})
# Role gates of the pages and the API (checked before any object is looked up: 403).
SEARCH_ROLES = ADMINISTRATIVE_ROLES | CLINICIAN_ROLES
RECORD_ROLES = SEARCH_ROLES | {Role.PATIENT}
EDIT_ROLES = ADMINISTRATIVE_ROLES | {Role.PATIENT}
MERGE_ROLES = frozenset({Role.CLINIC_ADMIN})


def clinical_access_q(actor, prefix: str = "") -> Q:
    """Q over Patient (or a model reaching it through `prefix`) for a clinician's access."""
    now = timezone.now()
    care = Q(
        **{
            f"{prefix}care_relationships__practitioner__user": actor,
            f"{prefix}care_relationships__ended_at__isnull": True,
        }
    )
    glass = Q(
        **{
            f"{prefix}break_glass_grants__user": actor,
            f"{prefix}break_glass_grants__expires_at__gt": now,
        }
    )
    return care | glass


def _patient_filter(actor, action):
    """Q over Patient for `actor`/`action`, or None when nothing is allowed."""
    if actor.role == Role.PATIENT:
        return Q(user=actor) if action in {"view", "change", "view_clinical"} else None
    if actor.role in CLINICIAN_ROLES:
        if action == "break_glass":
            # Emergency access may concern any patient: the look-up (exact MRN only) and the
            # grant are themselves logged and shown to the patient and the auditor.
            return Q()
        return clinical_access_q(actor) if action in {"view", "change", "view_clinical"} else None
    if actor.role in ADMINISTRATIVE_ROLES:
        if action in {"view", "change", "add"}:
            return Q()
        if action == "merge" and actor.role == Role.CLINIC_ADMIN:
            return Q()
    return None


@policies.register(Patient)
def patient_rule(qs, actor, action):
    q = _patient_filter(actor, action)
    if q is None:
        return qs.none()
    if not q:
        return qs
    # A relationship join can repeat rows; filter through a subquery instead of distinct().
    return qs.filter(pk__in=Patient.objects.filter(q).values("pk"))


def _through_patient(qs, actor, action):
    allowed = policies.apply(Patient.objects.all(), actor, "view" if action == "view" else "change")
    return qs.filter(patient__in=allowed.values("pk"))


for _model in (Consent, CareRelationship):
    policies.register(_model)(_through_patient)


@policies.register(BreakGlassGrant)
def break_glass_rule(qs, actor, action):
    if action != "view":
        return qs.none()
    if actor.role == Role.AUDITOR:
        return qs
    if actor.role == Role.PATIENT:
        return qs.filter(patient__user=actor)
    return qs.filter(user=actor)


@policies.register(DuplicateCandidate)
def duplicate_rule(qs, actor, action):
    return qs if actor.role == Role.CLINIC_ADMIN else qs.none()

"""Who may reach which scheduling rows. Deny by default.

- a patient: their own appointments, waitlist entries and offers;
- a doctor or nurse: appointments they hold, and appointments of patients they may open
  (care relationship or break-glass, as for the record itself); they change their own only;
- a receptionist or clinic administrator: every appointment and waitlist entry (running the
  day is their job), but not the reason for the visit, which pages show to clinicians and the
  patient only (see `selectors.can_read_reason`);
- availability: a doctor manages their own, a clinic administrator everyone's; everyone signed
  in may read it (slots are public within the clinic);
- an auditor: nothing here (they read the audit trail)."""

from django.db.models import Q

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.core import policies
from carehub.patients.policies import ADMINISTRATIVE_ROLES, clinical_access_q
from carehub.scheduling.models import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    CalendarFeed,
    WaitlistEntry,
    WaitlistOffer,
)

# Role gates of pages and endpoints (checked before any object is looked up: 403).
BOOKING_ROLES = frozenset({Role.PATIENT}) | ADMINISTRATIVE_ROLES
STAFF_ROLES = ADMINISTRATIVE_ROLES | CLINICIAN_ROLES
AVAILABILITY_ROLES = frozenset({Role.DOCTOR, Role.CLINIC_ADMIN})
REASSIGN_ROLES = ADMINISTRATIVE_ROLES


@policies.register(Appointment)
def appointment_rule(qs, actor, action):
    if actor.role == Role.PATIENT:
        return qs.filter(patient__user=actor) if action in {"view", "change"} else qs.none()
    if actor.role in CLINICIAN_ROLES:
        own = Q(practitioner__user=actor)
        if action == "view":
            reachable = Q(
                pk__in=Appointment.objects.filter(clinical_access_q(actor, "patient__")).values(
                    "pk"
                )
            )
            return qs.filter(own | reachable)
        return qs.filter(own) if action == "change" else qs.none()
    if actor.role in ADMINISTRATIVE_ROLES and action in {"view", "change", "add"}:
        return qs
    return qs.none()


def _availability(qs, actor, action):
    if action == "view":
        return qs
    if actor.role == Role.CLINIC_ADMIN:
        return qs
    if actor.role == Role.DOCTOR and action in {"change", "add"}:
        return qs.filter(practitioner__user=actor)
    return qs.none()


policies.register(AvailabilityRule)(_availability)
policies.register(AvailabilityException)(_availability)


@policies.register(WaitlistEntry)
def waitlist_rule(qs, actor, action):
    if actor.role == Role.PATIENT:
        return qs.filter(patient__user=actor) if action in {"view", "change"} else qs.none()
    if actor.role in ADMINISTRATIVE_ROLES and action in {"view", "change", "add"}:
        return qs
    if actor.role in CLINICIAN_ROLES and action == "view":
        return qs.filter(practitioner__user=actor)
    return qs.none()


@policies.register(WaitlistOffer)
def offer_rule(qs, actor, action):
    entries = policies.apply(WaitlistEntry.objects.all(), actor, action)
    return qs.filter(entry__in=entries.values("pk"))


@policies.register(CalendarFeed)
def feed_rule(qs, actor, action):
    if actor.role == Role.CLINIC_ADMIN:
        return qs
    if actor.role == Role.DOCTOR:
        return qs.filter(practitioner__user=actor)
    return qs.none()

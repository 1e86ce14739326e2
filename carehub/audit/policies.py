"""Auditors read the whole trail; a patient reads who accessed their own record."""

from carehub.accounts.choices import Role
from carehub.audit.models import AccessRecord, ChangeRecord, Event
from carehub.core import policies


def _own_patient_ids(actor):
    from carehub.patients import selectors

    return selectors.patient_ids_of_user(user=actor)


@policies.register(AccessRecord)
def access_rule(qs, actor, action):
    if action != "view":
        return qs.none()  # append-only: no one changes audit rows
    if actor.role == Role.AUDITOR:
        return qs
    if actor.role == Role.PATIENT:
        return qs.filter(patient_id__in=_own_patient_ids(actor))
    return qs.none()


@policies.register(Event)
def event_rule(qs, actor, action):
    if action != "view":
        return qs.none()
    if actor.role == Role.AUDITOR:
        return qs
    if actor.role == Role.PATIENT:
        # Break-glass openings of their record are shown to the patient.
        return qs.filter(patient_id__in=_own_patient_ids(actor), name="patient.break_glass_opened")
    return qs.none()


@policies.register(ChangeRecord)
def change_rule(qs, actor, action):
    if action == "view" and actor.role == Role.AUDITOR:
        return qs
    return qs.none()

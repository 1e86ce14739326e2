"""The directory is readable by every signed-in user (patients choose doctors from it);
administrators manage it, and a practitioner edits their own profile."""

from carehub.accounts.choices import Role
from carehub.core import policies
from carehub.directory.models import Department, Practitioner, Site, Specialty


def _directory_rule(qs, actor, action):
    if action == "view":
        return qs
    if actor.role == Role.CLINIC_ADMIN and action in {"add", "change"}:
        return qs
    return qs.none()


for _model in (Site, Department, Specialty):
    policies.register(_model)(_directory_rule)


@policies.register(Practitioner)
def practitioner_rule(qs, actor, action):
    if action == "view":
        return qs.filter(user__is_active=True) if actor.role == Role.PATIENT else qs
    if actor.role == Role.CLINIC_ADMIN and action in {"add", "change"}:
        return qs
    if action == "change":
        return qs.filter(user=actor)
    return qs.none()

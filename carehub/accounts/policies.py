"""Who may see and manage user accounts."""

from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.core import policies


@policies.register(User)
def user_rule(qs, actor, action):
    if actor.role == Role.CLINIC_ADMIN and action in {"view", "change", "deactivate"}:
        return qs
    if action in {"view", "change"}:
        return qs.filter(pk=actor.pk)
    return qs.none()

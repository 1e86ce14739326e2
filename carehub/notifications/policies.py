"""Who may reach which message: a user reaches only their own (view, change). Deny by default:
no other action, and no other user — not even an administrator or an auditor."""

from carehub.core import policies
from carehub.notifications.models import Message

OWN_ACTIONS = frozenset({"view", "change"})


@policies.register(Message)
def message_rule(qs, actor, action):
    if action not in OWN_ACTIONS:
        return qs.none()
    return qs.filter(recipient=actor)

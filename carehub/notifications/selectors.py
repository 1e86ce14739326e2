"""Reads of the inbox. Messages carry no patient data by design (see services), so these reads
write no access-log rows; every read still starts from the policy-restricted queryset."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from carehub.core.exceptions import NotFound
from carehub.notifications.models import Message


def message_list(*, actor, unread_only: bool = False) -> QuerySet[Message]:
    """`actor`'s messages, newest first."""
    messages = Message.objects.restrict(actor, "view")
    if unread_only:
        messages = messages.filter(read_at__isnull=True)
    return messages.order_by("-created_at", "-pk")


def message_get(*, actor, public_id: uuid.UUID | str) -> Message:
    """One of `actor`'s messages, or NotFound (also for another user's message)."""
    try:
        return Message.objects.restrict(actor, "view").get(public_id=public_id)
    except (Message.DoesNotExist, ValidationError) as exc:
        raise NotFound("No such message.") from exc


def unread_count(*, user) -> int:
    """How many unread messages `user` has: one COUNT over the inbox index (none if signed out)."""
    return Message.objects.restrict(user, "view").filter(read_at__isnull=True).count()

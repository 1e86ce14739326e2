"""Writes to the in-app inbox: other apps' services call `notify` / `notify_many` when something
happens to a user (an appointment booked, cancelled or reassigned, a waitlist offer made).

Privacy: a message must carry nothing about a patient beyond what its recipient may see, and a
title can be shown anywhere the inbox is (the navigation count, a phone's lock screen once email
and SMS follow). So callers keep titles and bodies free of patient names and other identifiers:
a staff message says "Appointment booked for Tue 3 Dec, 10:00" and links to the appointment page,
which checks access and writes the access-log row when it is opened. A patient's own messages may
name their own appointment, never another person.

`notify` only creates the row, inside the caller's transaction: if the booking rolls back, so does
its message. Delivery on other channels will hang off the row (`transaction.on_commit`), not off
this function."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from carehub.core.exceptions import NotFound, ValidationFailed
from carehub.notifications.models import KIND_PATTERN, Message

TITLE_MAX = Message._meta.get_field("title").max_length or 200
URL_MAX = Message._meta.get_field("url").max_length or 500
KIND_MAX = Message._meta.get_field("kind").max_length or 64
_KIND = re.compile(KIND_PATTERN)


def is_local_path(url: str) -> bool:
    """True for a path inside this site ("/appointments/…"); false for anything a browser could
    take elsewhere ("//host", "/\\host", "https://…", "javascript:…") or that holds whitespace."""
    return (
        url.startswith("/")
        and not url.startswith("//")
        and "\\" not in url
        and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url)
        and url_has_allowed_host_and_scheme(url, allowed_hosts=set())
    )


def _validate(*, kind: str, title: str, url: str) -> None:
    errors: dict[str, list[str]] = {}
    if not _KIND.match(kind or "") or len(kind) > KIND_MAX:
        errors["kind"] = ['Use a dotted lower-case name such as "appointment.booked".']
    if not (title or "").strip():
        errors["title"] = ["A message needs a title."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Keep the title to {TITLE_MAX} characters."]
    if url and (len(url) > URL_MAX or not is_local_path(url)):
        errors["url"] = ['The link must be a path inside CareHub, starting with "/".']
    if errors:
        raise ValidationFailed("The message is not valid.", field_errors=errors)


def notify(*, recipient, kind: str, title: str, body: str = "", url: str = "") -> Message:
    """Put a message in `recipient`'s inbox (one INSERT in the caller's transaction)."""
    # Not @transaction.atomic: a single INSERT needs no savepoint, and the caller's transaction
    # (the booking) is the unit that must succeed or fail with it.
    _validate(kind=kind, title=title, url=url)
    return Message.objects.create(
        recipient=recipient, kind=kind, title=title.strip(), body=body, url=url
    )


def notify_many(
    *, recipients: Iterable, kind: str, title: str, body: str = "", url: str = ""
) -> list[Message]:
    """Put the same message in each recipient's inbox (one bulk INSERT; duplicates collapse)."""
    _validate(kind=kind, title=title, url=url)
    unique = {user.pk: user for user in recipients}
    if not unique:
        return []
    return Message.objects.bulk_create(
        [
            Message(recipient=user, kind=kind, title=title.strip(), body=body, url=url)
            for user in unique.values()
        ]
    )


@transaction.atomic
def message_mark_read(*, actor, message: Message) -> Message:
    """Mark one of `actor`'s messages read (idempotent: the first read time is kept)."""
    now = timezone.now()
    own = Message.objects.restrict(actor, "change").filter(pk=message.pk)
    # A conditional UPDATE, so two tabs marking the same message cannot both "first" read it.
    if own.filter(read_at__isnull=True).update(read_at=now, updated_at=now):
        message.read_at = now
        return message
    read_at = own.values_list("read_at", flat=True).first()
    if read_at is None:
        # Another user's message, or none at all: the same answer, so existence is not revealed.
        raise NotFound("No such message.")
    message.read_at = read_at
    return message


@transaction.atomic
def messages_mark_all_read(*, actor) -> int:
    """Mark every unread message of `actor` read; returns how many changed."""
    now = timezone.now()
    return (
        Message.objects.restrict(actor, "change")
        .filter(read_at__isnull=True)
        .update(read_at=now, updated_at=now)
    )

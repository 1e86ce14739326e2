"""In-app messages: the inbox every signed-in user has.

A message is deliberately channel-neutral (no "in-app" field here): a later issue adds email and
SMS deliveries as rows that point at a `Message`, so this table stays what was said to whom."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from carehub.core.models import PublicModel

KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class Message(PublicModel):
    """One message to one user, e.g. "appointment.booked"; unread until `read_at` is set."""

    # PROTECT: what a user was told is part of the record, so deleting a user must not erase it
    # silently (users are deactivated, not deleted).
    recipient = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        max_length=64,
        validators=[RegexValidator(KIND_PATTERN, "Use a dotted lower-case name.")],
        help_text='What happened, dotted, e.g. "appointment.booked".',
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(
        max_length=500, blank=True, help_text="A path inside the site, starting with /."
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "read_at", "created_at"], name="message_inbox"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="message_title_not_blank"),
            models.CheckConstraint(condition=~Q(kind=""), name="message_kind_not_blank"),
            # A link never leaves the site (no open redirect through the read endpoint).
            models.CheckConstraint(
                condition=Q(url="")
                | (Q(url__startswith="/") & ~Q(url__startswith="//") & ~Q(url__contains="\\")),
                name="message_url_local_path",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to user {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

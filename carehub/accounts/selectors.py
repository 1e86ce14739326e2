"""Reads of user accounts for the administrator pages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.core.exceptions import Forbidden, NotFound


def _require_admin(actor: Any) -> None:
    if (
        actor is None
        or not getattr(actor, "is_authenticated", False)
        or actor.role != Role.CLINIC_ADMIN
    ):
        raise Forbidden("Only an administrator can manage accounts.")


def user_list(*, actor: User, search: str = "", role: str = "") -> QuerySet[User]:
    """Accounts `actor` may manage, with whether each has TOTP, searched by email or name."""
    from allauth.mfa.models import Authenticator

    _require_admin(actor)
    totp = Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
    qs = User.objects.restrict(actor, "view").annotate(has_mfa=Exists(totp))
    for word in (search or "").split():
        qs = qs.filter(
            Q(email__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
        )
    if role:
        qs = qs.filter(role=role)
    return qs.order_by("last_name", "first_name", "email")


def user_get(*, actor: User, public_id: uuid.UUID | str, action: str = "view") -> User:
    """One account `actor` may `action`, or NotFound."""
    try:
        return User.objects.restrict(actor, action).get(public_id=uuid.UUID(str(public_id)))
    except (ValueError, User.DoesNotExist) as exc:
        raise NotFound("No such account.") from exc


def active_user_counts(*, actor: User) -> list[tuple[str, int]]:
    """(role label, number of active accounts) for every role, zeros included."""
    _require_admin(actor)
    rows = dict(
        User.objects.restrict(actor, "view")
        .filter(is_active=True)
        .values_list("role")
        .annotate(n=Count("pk"))
        .values_list("role", "n")
    )
    return [(label, rows.get(value, 0)) for value, label in Role.choices]


def account_security_events(*, actor: User, limit: int = 10) -> list:
    """The latest high-priority events about accounts (lockouts, deactivations).

    The audit policy lets only auditors read Events, because most events name patients
    (merges, break-glass openings). Account security events are different: they are about
    staff and patient *logins*, carry no patient data, and the administrator is the person who
    must act on them (unlock, deactivate, check with the person). So this selector, and only
    this one, opens that narrow slice to administrators: `user.*` events of high priority,
    never an event tied to a patient record, and never the PHI access log."""
    from carehub.audit import selectors as audit

    _require_admin(actor)
    return audit.account_security_event_list(limit=limit)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        return None


EVENT_LABELS = {
    "user.locked_out": "Locked out after repeated failed sign-ins",
    "user.deactivated": "Account deactivated",
}


@dataclass(frozen=True)
class SecurityEventRow:
    at: Any
    name: str
    label: str
    account: str
    account_id: str
    by: str
    reason: str


@dataclass(frozen=True)
class AdminOverview:
    user_counts: list[tuple[str, int]]
    active_users: int
    security_events: list[SecurityEventRow]
    open_duplicates: int


def admin_overview(*, actor: User) -> AdminOverview:
    """Everything the administrator's home page shows."""
    from carehub.patients import selectors as patients

    _require_admin(actor)
    events = account_security_events(actor=actor)
    # Events name the account by public id; show its email instead.
    ids = {_as_uuid(e.object_id) for e in events} - {None}
    emails = {
        str(k): v
        for k, v in User.objects.restrict(actor, "view")
        .filter(public_id__in=ids)
        .values_list("public_id", "email")
    }
    rows = [
        SecurityEventRow(
            at=e.at,
            name=e.name,
            label=EVENT_LABELS.get(e.name, e.name),
            account=emails.get(e.object_id, "(unknown account)"),
            account_id=e.object_id,
            by=e.actor_label or "CareHub (automatic)",
            reason=str((e.data or {}).get("reason", "")),
        )
        for e in events
    ]
    counts = active_user_counts(actor=actor)
    return AdminOverview(
        user_counts=counts,
        active_users=sum(n for _, n in counts),
        security_events=rows,
        open_duplicates=patients.duplicate_candidates_open(actor=actor).count(),
    )


def display_names(*, public_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Full names of staff accounts by public id, to show people rather than login emails (for
    instance on a patient's "who viewed my record" page). Patients' names are never returned."""
    rows = (
        User.objects.filter(public_id__in=public_ids)
        .exclude(role=Role.PATIENT)
        .values_list("public_id", "first_name", "last_name")
    )
    return {pid: f"{first} {last}".strip() for pid, first, last in rows if first or last}

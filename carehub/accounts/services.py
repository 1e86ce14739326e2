"""Account operations: lockout, deactivation, session and token revocation."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from carehub.accounts.models import User
from carehub.audit import services as audit
from carehub.audit.choices import Priority
from carehub.core import policies
from carehub.core.exceptions import Forbidden


def user_is_locked(*, user: User) -> bool:
    return user.locked_until is not None and user.locked_until > timezone.now()


@transaction.atomic
def login_failure_record(*, email: str) -> None:
    """Count a failed sign-in; lock the account for LOGIN_LOCKOUT_MINUTES at the threshold."""
    user = User.objects.select_for_update().filter(email__iexact=email.strip()).first()
    if user is None:
        audit.event_record(actor=None, name="user.login_failed", data={"known_account": False})
        return
    user.failed_logins += 1
    locked_now = user.failed_logins >= settings.LOGIN_LOCKOUT_THRESHOLD and not user_is_locked(user=user)
    if locked_now:
        user.locked_until = timezone.now() + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
        user.failed_logins = 0
    user.save(update_fields=["failed_logins", "locked_until"])
    audit.event_record(actor=None, name="user.login_failed", obj=user, data={"known_account": True})
    if locked_now:
        audit.event_record(actor=None, name="user.locked_out", obj=user, priority=Priority.HIGH)


@transaction.atomic
def login_success_record(*, user: AbstractBaseUser, method: str) -> None:
    """Reset the failure count and record the sign-in."""
    User.objects.filter(pk=user.pk, failed_logins__gt=0).update(failed_logins=0)
    audit.event_record(actor=user, name="user.logged_in", obj=user, data={"method": method})


def sessions_end(*, user: User) -> int:
    """End every browser session of `user` (tracked by allauth.usersessions)."""
    from allauth.usersessions.models import UserSession

    ended = 0
    for user_session in UserSession.objects.filter(user=user):
        user_session.end()
        ended += 1
    # Any session not tracked there dies anyway: the session auth hash includes auth_epoch
    # (User.get_session_auth_hash), and inactive users are rejected by the auth backend.
    return ended


@transaction.atomic
def user_deactivate(*, actor: User, user: User, reason: str = "") -> User:
    """Deactivate an account: no sign-in, and every session and API token dies at once."""
    if not policies.apply(User.objects.filter(pk=user.pk), actor, "deactivate").exists():
        raise Forbidden("You may not deactivate this account.")
    if user.pk == actor.pk:
        raise Forbidden("You cannot deactivate your own account.")
    user = User.objects.select_for_update().get(pk=user.pk)
    user.is_active = False
    user.auth_epoch += 1
    user.save(update_fields=["is_active", "auth_epoch"])
    sessions_end(user=user)
    audit.event_record(actor=actor, name="user.deactivated", obj=user, priority=Priority.HIGH,
                       data={"reason": reason[:500]})
    return user


@transaction.atomic
def user_reactivate(*, actor: User, user: User) -> User:
    """Allow an account to sign in again (old sessions and tokens stay dead)."""
    if not policies.apply(User.objects.filter(pk=user.pk), actor, "deactivate").exists():
        raise Forbidden("You may not reactivate this account.")
    user = User.objects.select_for_update().get(pk=user.pk)
    user.is_active = True
    user.failed_logins = 0
    user.locked_until = None
    user.save(update_fields=["is_active", "failed_logins", "locked_until"])
    audit.event_record(actor=actor, name="user.reactivated", obj=user)
    return user


def user_has_mfa(*, user: User) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

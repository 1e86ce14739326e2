"""Account operations: lockout, deactivation, session and token revocation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from carehub.accounts.models import User
from carehub.audit import services as audit
from carehub.audit.choices import Priority
from carehub.core import policies
from carehub.core.exceptions import Forbidden


def user_is_locked(*, user: User) -> bool:
    return user.locked_until is not None and user.locked_until > timezone.now()


def _unknown_key(email: str, what: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"carehub:login:{what}:{digest}"


def login_is_locked(*, email: str) -> bool:
    """Whether sign-in with `email` is refused for now. Addresses without an account "lock"
    exactly like real ones (in the cache), so the lockout message reveals nothing."""
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is not None:
        return user_is_locked(user=user)
    return bool(email) and cache.get(_unknown_key(email, "locked")) is not None


@transaction.atomic
def login_failure_record(*, email: str) -> None:
    """Count a failed sign-in; lock the account for LOGIN_LOCKOUT_MINUTES at the threshold."""
    email = (email or "").strip()
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is None:
        _unknown_failure_record(email)
        audit.event_record(actor=None, name="user.login_failed", data={"known_account": False})
        return
    user.failed_logins += 1
    locked_now = user.failed_logins >= settings.LOGIN_LOCKOUT_THRESHOLD and not user_is_locked(
        user=user
    )
    if locked_now:
        user.locked_until = timezone.now() + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
        user.failed_logins = 0
    user.save(update_fields=["failed_logins", "locked_until"])
    audit.event_record(actor=None, name="user.login_failed", obj=user, data={"known_account": True})
    if locked_now:
        audit.event_record(actor=None, name="user.locked_out", obj=user, priority=Priority.HIGH)


def _unknown_failure_record(email: str) -> None:
    if not email:
        return
    count_key = _unknown_key(email, "failures")
    cache.add(count_key, 0, timeout=24 * 3600)
    try:
        failures = cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, 1, timeout=24 * 3600)
        failures = 1
    if failures >= settings.LOGIN_LOCKOUT_THRESHOLD:
        cache.set(_unknown_key(email, "locked"), 1, timeout=settings.LOGIN_LOCKOUT_MINUTES * 60)
        cache.delete(count_key)


@transaction.atomic
def login_success_record(*, user: AbstractBaseUser, method: str) -> None:
    """Reset the failure count and record the sign-in."""
    User.objects.filter(pk=user.pk, failed_logins__gt=0).update(failed_logins=0)
    audit.event_record(actor=user, name="user.logged_in", obj=user, data={"method": method})


def sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """End every browser session of `user` (tracked by allauth.usersessions), except
    `keep_session_key` (the session that asked for it)."""
    from allauth.usersessions.models import UserSession

    ended = 0
    for user_session in UserSession.objects.filter(user=user):
        if keep_session_key and user_session.session_key == keep_session_key:
            continue
        user_session.end()
        ended += 1
    # Any session not tracked there dies anyway: the session auth hash includes auth_epoch
    # (User.get_session_auth_hash), and inactive users are rejected by the auth backend.
    return ended


def auth_epoch_bump(*, user: User) -> int:
    """Revoke every API token (and, through the session hash, every session) of `user`.
    Updates `user` in place so a session re-keyed with it afterwards stays valid."""
    User.objects.filter(pk=user.pk).update(auth_epoch=F("auth_epoch") + 1)
    user.auth_epoch = User.objects.values_list("auth_epoch", flat=True).get(pk=user.pk)
    return user.auth_epoch


@transaction.atomic
def password_reset_complete(*, request, user: User) -> None:
    """After a password reset: the old password may be known to someone else, so revoke every
    API token and every other session, and lift a lockout (the person proved they own the
    address). If the person is signed in here, this session stays valid."""
    from allauth.usersessions.models import UserSession
    from django.contrib.auth import update_session_auth_hash

    auth_epoch_bump(user=user)
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    user.failed_logins, user.locked_until = 0, None
    current = getattr(request, "user", None)
    if current is not None and current.is_authenticated and current.pk == user.pk:
        old_key = request.session.session_key
        sessions_end(user=user, keep_session_key=old_key)
        update_session_auth_hash(request, user)  # new key, hash of the new password and epoch
        UserSession.objects.filter(session_key=old_key).delete()
        UserSession.objects.create_from_request(request)
    else:
        sessions_end(user=user)
    audit.event_record(actor=user, name="user.password_reset", obj=user)


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
    audit.event_record(
        actor=actor,
        name="user.deactivated",
        obj=user,
        priority=Priority.HIGH,
        data={"reason": reason[:500]},
    )
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


# --- Staff invitations and unlocking (administrator pages, practitioner onboarding) ---------

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DUPLICATE_EMAIL_MESSAGE = "An account with this email address already exists."


def _require_admin(actor: User, message: str) -> None:
    from carehub.accounts.choices import Role

    if not getattr(actor, "is_authenticated", False) or actor.role != Role.CLINIC_ADMIN:
        raise Forbidden(message)


@transaction.atomic
def user_invite(*, actor: User, email: str, first_name: str, last_name: str, role: str) -> User:
    """Create a staff account that can only be entered through its invitation link: an
    unusable password and a verified address (receiving the invitation proves the address)."""
    from allauth.account.models import EmailAddress
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import IntegrityError

    from carehub.accounts.choices import STAFF_ROLES
    from carehub.core.exceptions import ValidationFailed

    _require_admin(actor, "Only an administrator can create staff accounts.")
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    if role not in STAFF_ROLES:
        errors["role"] = ["Choose a staff role."]
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        if not (value or "").strip():
            errors[name] = ["This field is required."]
    if "email" not in errors and (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    ):
        errors["email"] = [DUPLICATE_EMAIL_MESSAGE]
    if errors:
        raise ValidationFailed("Some details are not valid.", field_errors=errors)
    try:
        # A savepoint, so a concurrent invitation for the same address becomes a field error
        # instead of a broken transaction.
        with transaction.atomic():
            user = User.objects.create_user(
                email,
                password=None,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                role=role,
            )
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    except IntegrityError as exc:
        raise ValidationFailed(
            "Some details are not valid.", field_errors={"email": [DUPLICATE_EMAIL_MESSAGE]}
        ) from exc
    audit.event_record(actor=actor, name="user.invited", obj=user, data={"role": role})
    return user


def password_set_url(*, user: User, base_url: str = "") -> str:
    """Absolute link to allauth's set-password page for `user`; it stops working once the
    password changes or the user signs in (allauth's password-reset token)."""
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str
    from django.urls import reverse

    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    return (base_url or DEFAULT_BASE_URL).rstrip("/") + path


@transaction.atomic
def user_unlock(*, actor: User, user: User) -> User:
    """Lift a sign-in lockout early (after the administrator has checked with the person)."""
    if not policies.apply(User.objects.filter(pk=user.pk), actor, "deactivate").exists():
        raise Forbidden("You may not unlock this account.")
    user = User.objects.select_for_update().get(pk=user.pk)
    was_locked = user_is_locked(user=user)
    user.failed_logins = 0
    user.locked_until = None
    user.save(update_fields=["failed_logins", "locked_until"])
    audit.event_record(actor=actor, name="user.unlocked", obj=user, data={"was_locked": was_locked})
    return user


@transaction.atomic
def user_name_update(*, actor: User, user: User, first_name: str, last_name: str) -> User:
    """Correct the name shown for an account (the audit change row keeps the old one)."""
    from carehub.core.exceptions import ValidationFailed

    if not policies.apply(User.objects.filter(pk=user.pk), actor, "change").exists():
        raise Forbidden("You may not change this account.")
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    if not first_name or not last_name:
        raise ValidationFailed(
            "Give a first and last name.",
            field_errors={
                k: ["This field is required."]
                for k, v in (("first_name", first_name), ("last_name", last_name))
                if not v
            },
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    user.first_name, user.last_name = first_name[:150], last_name[:150]
    user.save(update_fields=["first_name", "last_name"])
    return user


@transaction.atomic
def user_provision(
    *,
    actor: User | None,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    password: str | None,
) -> User:
    """Create an account with a verified address: for installers and demo data (`actor=None` is
    the system, as in a management command) or an administrator. `password=None` leaves it
    unusable until set."""
    from allauth.account.models import EmailAddress

    from carehub.core.exceptions import ValidationFailed

    if actor is not None:
        _require_admin(actor, "Only an administrator can create accounts.")
    email = (email or "").strip().lower()
    if (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    ):
        raise ValidationFailed(
            "Some details are not valid.", field_errors={"email": [DUPLICATE_EMAIL_MESSAGE]}
        )
    user = User.objects.create_user(
        email, password=password, first_name=first_name, last_name=last_name, role=role
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    audit.event_record(actor=actor, name="user.provisioned", obj=user, data={"role": role})
    return user

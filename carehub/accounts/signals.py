"""Cross-cutting capture for accounts: audit registration and allauth events."""

import time

from allauth.account.signals import password_changed, password_reset, user_logged_out
from allauth.mfa.signals import (
    authentication_failed as mfa_authentication_failed,
)
from allauth.mfa.signals import (
    authenticator_added,
    authenticator_removed,
    authenticator_reset,
)
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from carehub.accounts import services
from carehub.accounts.middleware import SESSION_SEEN, SESSION_STARTED
from carehub.accounts.models import User
from carehub.audit import capture
from carehub.audit import services as audit

capture.register(User, exclude={"password", "last_login", "failed_logins"})


@receiver(user_logged_in)
def _session_started(sender, request, user, **kwargs):
    # The idle and absolute limits of SessionLifetimeMiddleware count from the sign-in itself.
    session = getattr(request, "session", None)
    if session is not None:
        now = time.time()
        session[SESSION_STARTED] = now
        session[SESSION_SEEN] = now


@receiver(password_reset)
def _password_reset(sender, request, user, **kwargs):
    services.password_reset_complete(request=request, user=user)


@receiver(password_changed)
def _password_changed(sender, request, user, **kwargs):
    audit.event_record(actor=user, name="user.password_changed", obj=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.event_record(actor=user, name="user.logged_out", obj=user)


@receiver(mfa_authentication_failed)
def _mfa_failed(sender, request, user, authenticator, reauthentication=False, **kwargs):
    # A wrong one-time code counts towards the lockout like a wrong password (the token
    # endpoint counts them too), so the second factor cannot be brute-forced either.
    services.login_failure_record(email=user.email)


@receiver(authenticator_added)
def _mfa_added(sender, request, user, authenticator, **kwargs):
    audit.event_record(
        actor=user, name="user.mfa_enabled", obj=user, data={"type": authenticator.type}
    )


@receiver(authenticator_removed)
def _mfa_removed(sender, request, user, authenticator, **kwargs):
    audit.event_record(
        actor=user, name="user.mfa_removed", obj=user, data={"type": authenticator.type}
    )


@receiver(authenticator_reset)
def _mfa_reset(sender, request, user, authenticator, **kwargs):
    audit.event_record(actor=user, name="user.recovery_codes_regenerated", obj=user)

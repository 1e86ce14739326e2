"""Cross-cutting capture for accounts: audit registration and allauth events."""

from allauth.account.signals import password_changed, password_reset, user_logged_out
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.dispatch import receiver

from carehub.accounts.models import User
from carehub.audit import capture
from carehub.audit import services as audit

capture.register(User, exclude={"password", "last_login", "failed_logins"})


@receiver(password_reset)
def _password_reset(sender, request, user, **kwargs):
    # A reset means the old password may be known to someone else: revoke every API token.
    User.objects.filter(pk=user.pk).update(auth_epoch=user.auth_epoch + 1, failed_logins=0, locked_until=None)
    audit.event_record(actor=user, name="user.password_reset", obj=user)


@receiver(password_changed)
def _password_changed(sender, request, user, **kwargs):
    audit.event_record(actor=user, name="user.password_changed", obj=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.event_record(actor=user, name="user.logged_out", obj=user)


@receiver(authenticator_added)
def _mfa_added(sender, request, user, authenticator, **kwargs):
    audit.event_record(actor=user, name="user.mfa_enabled", obj=user, data={"type": authenticator.type})


@receiver(authenticator_removed)
def _mfa_removed(sender, request, user, authenticator, **kwargs):
    audit.event_record(actor=user, name="user.mfa_removed", obj=user, data={"type": authenticator.type})


@receiver(authenticator_reset)
def _mfa_reset(sender, request, user, authenticator, **kwargs):
    audit.event_record(actor=user, name="user.recovery_codes_regenerated", obj=user)

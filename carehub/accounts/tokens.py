"""API tokens (JWT). Each token carries the user's auth epoch; deactivation or a password reset
raises the epoch and so revokes every outstanding token at once."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import authenticate
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from carehub.accounts import services
from carehub.accounts.models import User
from carehub.core.exceptions import ServiceError

EPOCH_CLAIM = "epoch"


class AuthFailed(ServiceError):
    status = 401
    title = "Authentication failed"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def _verify_second_factor(user: User, otp: str) -> bool:
    otp = (otp or "").strip().replace(" ", "")
    if not otp:
        return False
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is not None and TOTP(totp).validate_code(otp):
        return True
    codes = Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).first()
    return codes is not None and RecoveryCodes(codes).validate_code(otp)


def _pair_for(user: User) -> TokenPair:
    refresh = RefreshToken.for_user(user)
    refresh[EPOCH_CLAIM] = user.auth_epoch
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def token_issue(*, request: HttpRequest, username: str, password: str, otp: str = "") -> TokenPair:
    """Sign in an API client: password, then the TOTP (or a recovery code) when MFA is on,
    which it always is for staff. One generic message for every failure (no enumeration)."""
    generic = "Invalid credentials."
    user = User.objects.filter(email__iexact=(username or "").strip()).first()
    if user is not None and services.user_is_locked(user=user):
        raise AuthFailed("This account is temporarily locked after too many failed attempts.")
    authed = authenticate(request, email=(username or "").strip(), password=password or "")
    if authed is None:
        services.login_failure_record(email=username or "")
        raise AuthFailed(generic)
    user = User.objects.get(pk=authed.pk)
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        raise AuthFailed("Verify your email address before using the API.")
    needs_otp = user.is_staff_member or services.user_has_mfa(user=user)
    if needs_otp:
        if not services.user_has_mfa(user=user):
            raise AuthFailed("Set up two-factor authentication in the web application first.")
        if not _verify_second_factor(user, otp):
            services.login_failure_record(email=user.email)
            raise AuthFailed("A valid one-time code (otp) is required.", code="otp_required")
    services.login_success_record(user=user, method="api_token")
    return _pair_for(user)


def token_refresh(*, refresh: str) -> TokenPair:
    """A new access token (and a rotated refresh token) if the account is still allowed in."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise AuthFailed("The refresh token is invalid or expired.") from exc
    user = User.objects.filter(public_id=token.get("sub")).first()
    if user is None or not user.is_active or token.get(EPOCH_CLAIM) != user.auth_epoch:
        raise AuthFailed("The refresh token has been revoked.")
    try:
        token.blacklist()
    except (AttributeError, TokenError) as exc:
        raise AuthFailed("The refresh token has already been used.") from exc
    return _pair_for(user)

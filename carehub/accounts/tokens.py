"""API tokens (JWT). Each token carries the user's auth epoch; deactivation or a password reset
raises the epoch and so revokes every outstanding token at once.

Refresh tokens rotate: a refresh token works once (it is blacklisted as it is used, atomically,
so two concurrent uses cannot both succeed) and the new one keeps the original expiry, so an API
sign-in lasts at most REFRESH_TOKEN_LIFETIME, like the browser session's absolute lifetime."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from carehub.accounts import services
from carehub.accounts.models import User
from carehub.core.exceptions import ServiceError

EPOCH_CLAIM = "epoch"
GENERIC_FAILURE = "Invalid credentials."


class AuthFailed(ServiceError):
    status = 401
    title = "Authentication failed"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def _verify_second_factor(user: User, otp: str) -> str | None:
    """The method that proved the second factor ("totp", "recovery_code"), or None.
    TOTP codes are single-use (allauth remembers used codes); recovery codes are consumed."""
    otp = (otp or "").strip().replace(" ", "")
    if not otp:
        return None
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is not None and TOTP(totp).validate_code(otp):
        return "totp"
    codes = Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).first()
    if codes is not None and RecoveryCodes(codes).validate_code(otp):
        return "recovery_code"
    return None


def _pair_for(user: User, *, not_after: int | None = None) -> TokenPair:
    """A new access + refresh pair for `user`; `not_after` (epoch seconds) caps both expiries."""
    refresh = RefreshToken()
    refresh[api_settings.USER_ID_CLAIM] = str(getattr(user, api_settings.USER_ID_FIELD))
    refresh[EPOCH_CLAIM] = user.auth_epoch
    if not_after is not None and refresh["exp"] > not_after:
        refresh["exp"] = not_after
    access = refresh.access_token
    if access["exp"] > refresh["exp"]:
        access["exp"] = refresh["exp"]
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[api_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return TokenPair(access=str(access), refresh=str(refresh))


def token_issue(*, request: HttpRequest, username: str, password: str, otp: str = "") -> TokenPair:
    """Sign in an API client: password, then the TOTP (or a recovery code) when MFA is on,
    which it always is for staff. One generic message for every failure (no enumeration)."""
    email = (username or "").strip()
    if services.login_is_locked(email=email):
        raise AuthFailed("This account is temporarily locked after too many failed attempts.")
    authed = authenticate(request, email=email, password=password or "")
    if authed is None:
        services.login_failure_record(email=email)
        raise AuthFailed(GENERIC_FAILURE)
    user = User.objects.get(pk=authed.pk)
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        raise AuthFailed("Verify your email address before using the API.")
    method = "api_token"
    if user.is_staff_member or services.user_has_mfa(user=user):
        if not services.user_has_mfa(user=user):
            raise AuthFailed("Set up two-factor authentication in the web application first.")
        second = _verify_second_factor(user, otp)
        if second is None:
            services.login_failure_record(email=user.email)
            raise AuthFailed("A valid one-time code (otp) is required.", code="otp_required")
        method = f"api_token+{second}"
    services.login_success_record(user=user, method=method)
    return _pair_for(user)


@transaction.atomic
def token_refresh(*, refresh: str) -> TokenPair:
    """A new access token (and a rotated refresh token) if the account is still allowed in."""
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]  # verifies signature, expiry, blacklist
    except TokenError as exc:
        raise AuthFailed("The refresh token is invalid or expired.") from exc
    user = User.objects.filter(public_id=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active or token.get(EPOCH_CLAIM) != user.auth_epoch:
        raise AuthFailed("The refresh token has been revoked.")
    # Blacklist first and only continue if this request did it: a token replayed concurrently
    # finds the row already there.
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=token[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": refresh,
            "created_at": token.current_time,
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    if not created:
        raise AuthFailed("The refresh token has already been used.")
    return _pair_for(user, not_after=token["exp"])

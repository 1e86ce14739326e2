"""allauth hooks: lockout on the web sign-in, patient records at sign-up, encrypted TOTP secrets."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.shortcuts import redirect

from carehub.accounts import services
from carehub.accounts.choices import STAFF_ROLES, Role
from carehub.accounts.models import User
from carehub.core import crypto

LOCKED_MESSAGE = (
    "This account is temporarily locked after too many failed sign-in attempts. "
    "Try again later or reset your password."
)
MFA_SECRET_PURPOSE = "mfa.authenticator.secret"


def _login_methods(request: HttpRequest, user) -> str:
    """How this sign-in was proven, from allauth's per-session authentication records."""
    from allauth.account.internal.flows.login import get_authentication_records

    methods = dict.fromkeys(r.get("method", "") for r in get_authentication_records(request, user))
    return "+".join(m for m in methods if m) or "password"


class AccountAdapter(DefaultAccountAdapter):
    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        super().pre_authenticate(request, **credentials)
        email = credentials.get("email") or credentials.get("username") or ""
        if services.login_is_locked(email=email):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        services.login_failure_record(
            email=credentials.get("email") or credentials.get("username") or ""
        )

    def login(self, request: HttpRequest, user) -> None:
        # The lock may have started after the password step (wrong one-time codes at the
        # MFA stage count as failures too): check again before the session is created.
        if services.user_is_locked(user=User.objects.get(pk=user.pk)):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            messages.error(request, LOCKED_MESSAGE)
            raise ImmediateHttpResponse(redirect("account_login"))
        super().login(request, user)

    def post_login(self, request: HttpRequest, user, **kwargs):  # type: ignore[override]
        response = super().post_login(request, user, **kwargs)
        services.login_success_record(user=user, method=_login_methods(request, user))
        return response

    def save_user(self, request: HttpRequest, user, form, commit: bool = True):  # type: ignore[override]
        # Self-registration only ever creates patients; staff are onboarded by administrators.
        user.role = Role.PATIENT
        return super().save_user(request, user, form, commit=commit)


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return crypto.encrypt_text(text, purpose=MFA_SECRET_PURPOSE)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt_text(encrypted_text, purpose=MFA_SECRET_PURPOSE)

    def can_delete_authenticator(self, authenticator) -> bool:
        # MFA is mandatory for staff: they may replace their authenticator, not remove it.
        return authenticator.user.role not in STAFF_ROLES

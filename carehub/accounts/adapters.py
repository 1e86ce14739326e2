"""allauth hooks: lockout on the web sign-in, patient records at sign-up, encrypted TOTP secrets."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django import forms
from django.http import HttpRequest

from carehub.accounts import services
from carehub.accounts.choices import STAFF_ROLES, Role
from carehub.accounts.models import User
from carehub.core import crypto

LOCKED_MESSAGE = "This account is temporarily locked after too many failed sign-in attempts. Try again later or reset your password."


class AccountAdapter(DefaultAccountAdapter):
    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        super().pre_authenticate(request, **credentials)
        email = credentials.get("email") or credentials.get("username") or ""
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is not None and services.user_is_locked(user=user):
            raise forms.ValidationError(LOCKED_MESSAGE)

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        services.login_failure_record(email=credentials.get("email") or credentials.get("username") or "")

    def post_login(self, request: HttpRequest, user, **kwargs):  # type: ignore[override]
        response = super().post_login(request, user, **kwargs)
        services.login_success_record(user=user, method="password")
        return response

    def save_user(self, request: HttpRequest, user, form, commit: bool = True):  # type: ignore[override]
        # Self-registration only ever creates patients; staff are onboarded by administrators.
        user.role = Role.PATIENT
        return super().save_user(request, user, form, commit=commit)


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return crypto.encrypt_text(text, purpose="mfa.authenticator.secret")

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt_text(encrypted_text, purpose="mfa.authenticator.secret")

    def can_delete_authenticator(self, authenticator) -> bool:
        # MFA is mandatory for staff: they may replace their authenticator, not remove it.
        return authenticator.user.role not in STAFF_ROLES

"""Automatic logoff and mandatory MFA for staff."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from carehub.accounts import services

SESSION_STARTED = "carehub_started_at"
SESSION_SEEN = "carehub_last_seen"


def idle_timeout_for(user) -> int:
    return settings.SESSION_IDLE_TIMEOUT_STAFF if user.is_staff_member else settings.SESSION_IDLE_TIMEOUT_PATIENT


class SessionLifetimeMiddleware:
    """Ends a browser session after the idle timeout (15 min staff, 30 min patients by default)
    or after the absolute lifetime (12 h), whichever comes first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            started = request.session.get(SESSION_STARTED)
            seen = request.session.get(SESSION_SEEN)
            if started is None:
                request.session[SESSION_STARTED] = now
                started = now
            expired = (
                now - started > settings.SESSION_ABSOLUTE_LIFETIME
                or (seen is not None and now - seen > idle_timeout_for(user))
            )
            if expired:
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"type": "about:blank", "title": "Authentication required", "status": 401,
                         "detail": "Your session has ended. Sign in again."},
                        status=401, content_type="application/problem+json",
                    )
                messages.info(request, "For your security you were signed out after a period of inactivity.")
                return redirect(f"{reverse('account_login')}?next={request.path}")
            # Background polling must not keep a session alive.
            if request.headers.get("X-CareHub-Background") != "1":
                request.session[SESSION_SEEN] = now
        return self.get_response(request)


# Sign-in, sign-out and MFA set-up pages must stay reachable, as must static files.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/health/", "/favicon")


class StaffMfaRequiredMiddleware:
    """A staff user without TOTP is sent to set it up and can do nothing else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff_member
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and not services.user_has_mfa(user=user)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"type": "about:blank", "title": "Forbidden", "status": 403,
                     "detail": "Staff accounts must set up two-factor authentication first."},
                    status=403, content_type="application/problem+json",
                )
            messages.warning(request, "Staff accounts must use two-factor authentication. Set it up to continue.")
            return redirect("mfa_activate_totp")
        return self.get_response(request)

"""Automatic logoff and mandatory MFA for staff.

Both middlewares add flash messages, so they must come after MessageMiddleware (and after
AuthenticationMiddleware) in settings.MIDDLEWARE."""

from __future__ import annotations

import time
from functools import cache
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from carehub.accounts import services

SESSION_STARTED = "carehub_started_at"
SESSION_SEEN = "carehub_last_seen"
BACKGROUND_HEADER = "X-CareHub-Background"

SIGNED_OUT_IDLE = "For your security you were signed out after a period of inactivity."
SIGNED_OUT_MAX = "For your security you were signed out: sessions last at most {hours} hours."
MFA_REQUIRED = "Staff accounts must use two-factor authentication. Set it up to continue."


def idle_timeout_for(user) -> int:
    if user.is_staff_member:
        return settings.SESSION_IDLE_TIMEOUT_STAFF
    return settings.SESSION_IDLE_TIMEOUT_PATIENT


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        # An HTMX fragment request must not swap the sign-in page into part of the page.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _problem(status: int, detail: str) -> HttpResponse:
    from carehub.core.api import json_problem_response

    return json_problem_response(status, detail)


ACTIVITY_RESOLUTION = 30  # seconds


class SessionLifetimeMiddleware:
    """Ends a browser session after the idle timeout (15 min staff, 30 min patients by default)
    or after the absolute lifetime (12 h), whichever comes first.

    Requests marked `X-CareHub-Background: 1` (polling) do not count as activity. The session
    cookie itself lasts until the browser closes (allauth, ACCOUNT_SESSION_REMEMBER = False)
    and the server-side session at most SESSION_COOKIE_AGE (= the absolute lifetime) after the
    last activity; the limits enforced here are always the shorter ones."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            started = request.session.get(SESSION_STARTED)
            seen = request.session.get(SESSION_SEEN)
            if started is None:  # a session from before this middleware: start counting now
                request.session[SESSION_STARTED] = started = now
            too_old = now - started > settings.SESSION_ABSOLUTE_LIFETIME
            idle = seen is not None and now - seen > idle_timeout_for(user)
            if too_old or idle:
                return self._end(request, too_old=too_old)
            # Activity is recorded to the nearest ACTIVITY_RESOLUTION seconds: saving the session
            # on every request would make every page view a database write.
            fresh = seen is not None and now - seen < ACTIVITY_RESOLUTION
            if request.headers.get(BACKGROUND_HEADER) != "1" and not fresh:
                request.session[SESSION_SEEN] = now
        return self.get_response(request)

    def _end(self, request: HttpRequest, *, too_old: bool) -> HttpResponse:
        logout(request)
        if _is_api(request):
            return _problem(401, "Your session has ended. Sign in again.")
        hours = settings.SESSION_ABSOLUTE_LIFETIME // 3600
        messages.info(request, SIGNED_OUT_MAX.format(hours=hours) if too_old else SIGNED_OUT_IDLE)
        login = reverse("account_login")
        if request.method == "GET":
            login += "?" + urlencode({"next": request.get_full_path()})
        return _redirect(request, login)


@cache
def _mfa_exempt_prefixes() -> tuple[str, ...]:
    """What a staff member without MFA may still reach: sign-in and sign-out, the MFA set-up
    pages (and the re-authentication they may ask for), password reset, email confirmation."""
    names = [
        "account_login",
        "account_logout",
        "account_reauthenticate",
        "account_reset_password",  # /accounts/password/reset/ and the emailed key pages
        "account_change_password",
        "account_inactive",
        "account_email_verification_sent",  # /accounts/confirm-email/ and the emailed key pages
        "mfa_index",  # /accounts/2fa/: activation, recovery codes, authentication
    ]
    prefixes = [reverse(name) for name in names]
    prefixes += [settings.STATIC_URL, "/health/", "/favicon"]
    return tuple(prefixes)


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
            and not request.path.startswith(_mfa_exempt_prefixes())
            and not services.user_has_mfa(user=user)
        ):
            if _is_api(request):
                return _problem(403, "Staff accounts must set up two-factor authentication first.")
            messages.warning(request, MFA_REQUIRED)
            return _redirect(request, reverse("mfa_activate_totp"))
        return self.get_response(request)

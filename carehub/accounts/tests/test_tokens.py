"""API tokens: `POST /api/v1/auth/token/` and `/token/refresh/`. Staff need a one-time code;
refresh tokens rotate and work once; deactivation and password resets revoke every token."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.urls import include, path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

import config.urls
from carehub.accounts import services
from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import TEST_PASSWORD, make_user, totp_code
from carehub.accounts.tokens import EPOCH_CLAIM, AuthFailed, token_refresh

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
WHOAMI_URL = "/api/v1/_probe/whoami/"


@pytest.fixture(autouse=True)
def _start_of_a_totp_period():
    """TOTP codes change every 30 s: each test starts at the beginning of a period, so a code
    the test computes is still current when the server checks it (no flaky boundary)."""
    from allauth.mfa import app_settings

    now = time.time()
    with time_machine.travel(now - now % app_settings.TOTP_PERIOD + 0.2, tick=True):
        yield


class WhoAmI(APIView):
    def get(self, request):
        return Response({"email": request.user.email})


urlpatterns = [
    path("api/v1/_probe/whoami/", WhoAmI.as_view()),
    path("", include(config.urls.urlpatterns)),
]
handler404 = config.urls.handler404
PROBES = pytest.mark.urls(__name__)


def obtain(email, password=TEST_PASSWORD, **extra):
    return APIClient().post(
        TOKEN_URL, {"username": email, "password": password, **extra}, format="json"
    )


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh": token}, format="json")


def whoami(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(WHOAMI_URL)


def pair_for(user, **extra) -> dict:
    response = obtain(user.email, **extra)
    assert response.status_code == 200, response.content
    return response.json()


def assert_401(response, detail: str | None = None) -> dict:
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    if detail is not None:
        assert detail in body["detail"]
    return body


# --- obtaining a pair --------------------------------------------------------------------------


@PROBES
def test_a_patient_gets_a_pair_and_the_access_token_works():
    user = make_user(Role.PATIENT)

    tokens = pair_for(user)

    assert set(tokens) == {"access", "refresh"}
    assert whoami(tokens["access"]).json() == {"email": user.email}


def test_tokens_name_the_user_by_public_id_and_carry_the_epoch():
    user = make_user(Role.PATIENT)

    tokens = pair_for(user)

    access = AccessToken(tokens["access"])
    assert access["sub"] == str(user.public_id)
    assert access[EPOCH_CLAIM] == 0
    assert user.email not in str(access.payload)
    assert "user_id" not in access.payload
    assert access["exp"] - access["iat"] == 15 * 60
    assert RefreshToken(tokens["refresh"])["exp"] - access["iat"] == 12 * 3600
    assert OutstandingToken.objects.filter(user=user).count() == 1


def test_wrong_password_and_unknown_address_get_the_same_generic_401():
    user = make_user(Role.PATIENT)

    wrong = assert_401(obtain(user.email, "wrong-password"))
    unknown = assert_401(obtain("nobody@example.org", "wrong-password"))

    assert wrong["detail"] == unknown["detail"] == "Invalid credentials."
    assert wrong["title"] == unknown["title"]


def test_a_deactivated_account_gets_the_generic_401():
    user = make_user(Role.PATIENT, is_active=False)

    assert_401(obtain(user.email), "Invalid credentials.")


def test_a_patient_with_an_unverified_address_gets_no_token():
    user = make_user(Role.PATIENT)
    EmailAddress.objects.filter(user=user).update(verified=False)

    assert_401(obtain(user.email), "Verify your email address")


def test_a_malformed_body_is_400_with_field_errors():
    response = APIClient().post(TOKEN_URL, {"username": "x@example.org"}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "password" in response.json()["errors"]


def test_the_address_is_matched_case_insensitively():
    user = make_user(Role.PATIENT, email="grace@example.org")

    assert obtain("  GRACE@Example.org ").status_code == 200
    assert user.email == "grace@example.org"


# --- staff and one-time codes ------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r != Role.PATIENT])
def test_staff_need_a_one_time_code(role):
    user = make_user(role)

    body = assert_401(obtain(user.email), "one-time code")
    assert body["code"] == "otp_required"

    assert obtain(user.email, otp=totp_code(user.totp_secret)).status_code == 200


def test_a_totp_code_works_only_once():
    user = make_user(Role.DOCTOR)
    code = totp_code(user.totp_secret)

    assert obtain(user.email, otp=code).status_code == 200
    assert_401(obtain(user.email, otp=code), "one-time code")


def test_a_recovery_code_works_once_instead_of_the_totp():
    user = make_user(Role.NURSE)
    code = RecoveryCodes.activate(user).get_unused_codes()[0]

    assert obtain(user.email, otp=code).status_code == 200
    assert_401(obtain(user.email, otp=code))


def test_staff_without_mfa_are_told_to_set_it_up_first():
    user = make_user(Role.RECEPTIONIST, mfa=False)

    assert_401(obtain(user.email, otp="123456"), "Set up two-factor authentication")


def test_a_patient_who_turned_on_mfa_needs_the_code_too():
    user = make_user(Role.PATIENT, mfa=True)

    assert_401(obtain(user.email), "one-time code")
    assert obtain(user.email, otp=totp_code(user.totp_secret)).status_code == 200


def test_the_api_sign_in_is_audited_with_its_method():
    from carehub.audit.models import Event

    user = make_user(Role.DOCTOR)
    pair_for(user, otp=totp_code(user.totp_secret))

    event = Event.objects.get(name="user.logged_in", object_id=str(user.public_id))
    assert event.data["method"] == "api_token+totp"


# --- refresh and rotation ----------------------------------------------------------------------


@PROBES
def test_refresh_rotates_and_the_old_refresh_token_stops_working():
    user = make_user(Role.PATIENT)
    first = pair_for(user)

    response = refresh(first["refresh"])

    assert response.status_code == 200
    second = response.json()
    assert second["refresh"] != first["refresh"]
    assert whoami(second["access"]).status_code == 200
    assert_401(refresh(first["refresh"]))
    assert refresh(second["refresh"]).status_code == 200
    jti = RefreshToken(second["refresh"], verify=False)["jti"]
    assert BlacklistedToken.objects.filter(token__jti=jti).exists()


def test_a_rotated_refresh_token_keeps_the_original_expiry():
    user = make_user(Role.PATIENT)
    first = pair_for(user)

    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        second = refresh(first["refresh"]).json()

    assert (
        RefreshToken(second["refresh"], verify=False)["exp"]
        == RefreshToken(first["refresh"], verify=False)["exp"]
    )


def test_refreshing_stops_at_the_absolute_lifetime():
    user = make_user(Role.PATIENT)
    tokens = pair_for(user)
    start = timezone.now()

    for hours in range(1, 12):
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            tokens = refresh(tokens["refresh"]).json()
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        assert_401(refresh(tokens["refresh"]), "invalid or expired")


def test_two_uses_of_one_refresh_token_cannot_both_succeed(monkeypatch):
    # Simulate the race: both requests pass the blacklist check before either blacklists.
    monkeypatch.setattr(RefreshToken, "check_blacklist", lambda self: None)
    user = make_user(Role.PATIENT)
    token = pair_for(user)["refresh"]

    token_refresh(refresh=token)
    with pytest.raises(AuthFailed, match="already been used"):
        token_refresh(refresh=token)


def test_an_access_token_is_not_a_refresh_token():
    tokens = pair_for(make_user(Role.PATIENT))

    assert_401(refresh(tokens["access"]))


def test_a_tampered_refresh_token_is_refused():
    tokens = pair_for(make_user(Role.PATIENT))
    head, payload, signature = tokens["refresh"].split(".")

    assert_401(refresh(f"{head}.{payload}.{signature[::-1]}"))


@PROBES
def test_an_access_token_expires_after_fifteen_minutes():
    tokens = pair_for(make_user(Role.PATIENT))

    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        assert_401(whoami(tokens["access"]))


# --- revocation through the auth epoch ---------------------------------------------------------


@PROBES
def test_deactivation_revokes_access_and_refresh_tokens_at_once():
    admin = make_user(Role.CLINIC_ADMIN)
    user = make_user(Role.PATIENT)
    tokens = pair_for(user)

    services.user_deactivate(actor=admin, user=user, reason="left the practice")

    assert_401(whoami(tokens["access"]))
    assert_401(refresh(tokens["refresh"]))


@PROBES
def test_reactivation_does_not_revive_old_tokens():
    admin = make_user(Role.CLINIC_ADMIN)
    user = make_user(Role.PATIENT)
    tokens = pair_for(user)
    services.user_deactivate(actor=admin, user=user)

    services.user_reactivate(actor=admin, user=user)

    assert_401(whoami(tokens["access"]), "revoked")
    assert_401(refresh(tokens["refresh"]), "revoked")
    assert whoami(pair_for(user)["access"]).status_code == 200


@PROBES
def test_a_password_reset_revokes_every_token():
    user = make_user(Role.PATIENT)
    tokens = pair_for(user)

    services.password_reset_complete(request=None, user=user)

    assert_401(whoami(tokens["access"]), "revoked")
    assert_401(refresh(tokens["refresh"]), "revoked")


@PROBES
def test_a_session_cookie_alone_also_authenticates_api_calls(client):
    user = make_user(Role.PATIENT)
    client.post("/accounts/login/", {"login": user.email, "password": TEST_PASSWORD})

    assert client.get(WHOAMI_URL).json() == {"email": user.email}


@pytest.mark.django_db
def test_token_throttle_cannot_be_dodged_with_a_forged_forwarded_for_header():
    from rest_framework.test import APIClient

    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/",
            {"username": "nobody@example.org", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        ).status_code
        for i in range(35)
    ]

    assert 429 in statuses

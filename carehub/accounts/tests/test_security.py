"""Sign-in security: password rules, throttling, lockout on the web sign-in and the token
endpoint (one counter for both), and a login page that says clearly what happened."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from allauth.account.adapter import get_adapter
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from carehub.accounts.adapters import LOCKED_MESSAGE, AccountAdapter
from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.accounts.tests.factories import TEST_PASSWORD, make_user
from carehub.audit.models import Event

pytestmark = pytest.mark.django_db
THRESHOLD = 3


@pytest.fixture(autouse=True)
def _start_of_a_totp_period():
    """TOTP codes change every 30 s: each test starts at the beginning of a period, so a code
    the test computes is still current when the server checks it (no flaky boundary)."""
    from allauth.mfa import app_settings

    now = time.time()
    with time_machine.travel(now - now % app_settings.TOTP_PERIOD + 0.2, tick=True):
        yield


@pytest.fixture(autouse=True)
def _small_threshold(settings):
    settings.LOGIN_LOCKOUT_THRESHOLD = THRESHOLD
    settings.LOGIN_LOCKOUT_MINUTES = 15


def web_login(client, email, password=TEST_PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def api_login(email, password=TEST_PASSWORD, otp=""):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": email, "password": password, "otp": otp}, format="json"
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def events(name: str, user: User | None = None) -> int:
    qs = Event.objects.filter(name=name)
    if user is not None:
        qs = qs.filter(object_id=str(user.public_id))
    return qs.count()


# --- password rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r != Role.PATIENT])
def test_staff_passwords_need_twelve_characters(role):
    user = make_user(role, mfa=False)

    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("tulip-fox-9", user)  # 11 characters
    validate_password("tulip-fox-9k", user)


def test_patient_passwords_need_eight_characters():
    user = make_user(Role.PATIENT)

    with pytest.raises(ValidationError, match="at least 8 characters"):
        validate_password("tulip-9", user)
    validate_password("tulip-9k", user)


def test_without_a_user_the_stricter_staff_minimum_applies():
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("tulip-fox-9")


@pytest.mark.parametrize(
    ("password", "message"),
    [("password1234", "too common"), ("839274619283", "entirely numeric")],
)
def test_common_and_numeric_passwords_are_rejected(password, message):
    with pytest.raises(ValidationError, match=message):
        validate_password(password, make_user(Role.PATIENT))


def test_a_password_like_the_email_address_is_rejected():
    user = make_user(Role.DOCTOR, mfa=False, email="margaret.hamilton@example.org")

    with pytest.raises(ValidationError, match="too similar"):
        validate_password("margaret.hamilton", user)


def test_the_help_text_states_both_minimums():
    from django.contrib.auth.password_validation import password_validators_help_texts

    assert any("8 characters" in t and "12" in t for t in password_validators_help_texts())


# --- allauth really calls our adapter ----------------------------------------------------------


def test_allauth_uses_the_carehub_adapters():
    from allauth.mfa.adapter import get_adapter as get_mfa_adapter

    from carehub.accounts.adapters import MFAAdapter

    assert isinstance(get_adapter(), AccountAdapter)
    assert isinstance(get_mfa_adapter(), MFAAdapter)


def test_the_login_flow_calls_pre_authenticate_authentication_failed_and_post_login(
    client, monkeypatch
):
    calls: list[str] = []
    for name in ("pre_authenticate", "authentication_failed", "post_login"):
        original = getattr(AccountAdapter, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(AccountAdapter, name, spy)
    user = make_user(Role.PATIENT)

    web_login(client, user.email, "wrong-password")
    assert calls == ["pre_authenticate", "authentication_failed"]
    calls.clear()
    web_login(client, user.email)
    assert calls == ["pre_authenticate", "post_login"]


# --- the login page ----------------------------------------------------------------------------


def test_the_login_page_labels_its_fields(client):
    html = client.get(reverse("account_login")).content.decode()

    assert '<label for="id_login">' in html
    assert '<label for="id_password">' in html
    assert 'autocomplete="email"' in html
    assert 'autocomplete="current-password"' in html
    assert reverse("account_reset_password") in html


def test_a_wrong_password_gives_one_message_for_unknown_and_known_addresses(client):
    user = make_user(Role.PATIENT)

    known = web_login(client, user.email, "wrong-password").content.decode()
    unknown = web_login(client, "nobody@example.org", "wrong-password").content.decode()

    message = "The email address and/or password you specified are not correct."
    assert message in known
    assert message in unknown


def test_a_successful_sign_in_is_audited_and_resets_the_failure_count(client):
    user = make_user(Role.PATIENT)
    web_login(client, user.email, "wrong-password")

    web_login(client, user.email)

    user.refresh_from_db()
    assert signed_in(client)
    assert user.failed_logins == 0
    assert events("user.logged_in", user) == 1
    assert events("user.login_failed", user) == 1


def test_signing_out_ends_the_session_and_is_audited(client):
    user = make_user(Role.PATIENT)
    web_login(client, user.email)

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert not signed_in(client)
    assert events("user.logged_out", user) == 1


def test_a_password_reset_request_reveals_nothing_about_the_address(client):
    from django.core import mail

    user = make_user(Role.PATIENT)

    known = client.post(reverse("account_reset_password"), {"email": user.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [m.to for m in mail.outbox] == [[user.email], ["nobody@example.org"]]


def test_a_deactivated_account_cannot_sign_in(client):
    user = make_user(Role.PATIENT, is_active=False)

    response = web_login(client, user.email)

    assert not signed_in(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_inactive")


# --- lockout -----------------------------------------------------------------------------------


def test_repeated_wrong_passwords_lock_the_account(client):
    user = make_user(Role.PATIENT)

    for _ in range(THRESHOLD):
        web_login(client, user.email, "wrong-password")

    user.refresh_from_db()
    assert user.locked_until is not None
    assert user.locked_until > timezone.now() + timedelta(minutes=14)
    assert events("user.login_failed", user) == THRESHOLD
    assert events("user.locked_out", user) == 1


def test_a_locked_account_gets_a_clear_error_even_with_the_right_password(client):
    user = make_user(Role.PATIENT)
    for _ in range(THRESHOLD):
        web_login(client, user.email, "wrong-password")

    response = web_login(client, user.email)

    assert response.status_code == 200
    assert not signed_in(client)
    html = response.content.decode()
    assert LOCKED_MESSAGE in html
    assert 'class="errorlist nonfield"' in html


def test_the_lock_ends_after_the_lockout_period(client):
    user = make_user(Role.PATIENT)
    for _ in range(THRESHOLD):
        web_login(client, user.email, "wrong-password")

    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        web_login(client, user.email)

    assert signed_in(client)


def test_failures_while_locked_do_not_extend_the_lock(client):
    user = make_user(Role.PATIENT)
    for _ in range(THRESHOLD):
        web_login(client, user.email, "wrong-password")
    user.refresh_from_db()
    locked_until = user.locked_until

    for _ in range(THRESHOLD):
        web_login(client, user.email, "wrong-password")

    user.refresh_from_db()
    assert user.locked_until == locked_until
    assert events("user.locked_out", user) == 1


def test_the_token_endpoint_counts_failures_and_respects_the_lock():
    user = make_user(Role.PATIENT)

    for _ in range(THRESHOLD):
        assert api_login(user.email, "wrong-password").status_code == 401

    response = api_login(user.email)
    assert response.status_code == 401
    assert "locked" in response.json()["detail"]
    assert events("user.locked_out", user) == 1


def test_web_and_api_failures_share_one_counter(client):
    user = make_user(Role.PATIENT)

    web_login(client, user.email, "wrong-password")
    api_login(user.email, "wrong-password")
    web_login(client, user.email, "wrong-password")

    user.refresh_from_db()
    assert user.locked_until is not None
    assert LOCKED_MESSAGE in web_login(client, user.email).content.decode()


def test_wrong_one_time_codes_at_the_token_endpoint_count_too():
    user = make_user(Role.DOCTOR)

    for _ in range(THRESHOLD):
        assert api_login(user.email, otp="000000").status_code == 401

    user.refresh_from_db()
    assert user.locked_until is not None


def test_an_unknown_address_locks_the_same_way_so_the_message_reveals_nothing(client):
    for _ in range(THRESHOLD):
        web_login(client, "nobody@example.org", "wrong-password")

    response = web_login(client, "nobody@example.org", "anything")

    assert LOCKED_MESSAGE in response.content.decode()
    assert "locked" in api_login("nobody@example.org", "x").json()["detail"]
    assert events("user.login_failed") == THRESHOLD


def test_a_password_reset_lifts_the_lock(client):
    from carehub.accounts import services

    user = make_user(Role.PATIENT)
    for _ in range(THRESHOLD):
        web_login(client, user.email, "wrong-password")

    services.password_reset_complete(request=None, user=user)

    user.refresh_from_db()
    assert user.locked_until is None
    web_login(client, user.email)
    assert signed_in(client)


# --- allauth rate limits (throttling before the lock) -------------------------------------------


def test_allauth_throttles_repeated_failures_per_address(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,2/5m/key"}
    settings.LOGIN_LOCKOUT_THRESHOLD = 100
    user = make_user(Role.PATIENT)

    for _ in range(2):
        web_login(client, user.email, "wrong-password")
    response = web_login(client, user.email)

    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(client)


def test_allauth_throttles_sign_in_attempts_per_ip(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "2/m/ip,10/5m/key"}
    settings.LOGIN_LOCKOUT_THRESHOLD = 100

    web_login(client, "a@example.org", "x")
    web_login(client, "b@example.org", "x")
    response = web_login(client, "c@example.org", "x")

    assert "Too many failed login attempts" in response.content.decode()

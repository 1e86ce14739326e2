"""Automatic logoff (idle 15 min staff / 30 min patients, 12 h at most), and the ways a session
ends at once: deactivation and password reset."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from carehub.accounts import services
from carehub.accounts.choices import Role
from carehub.accounts.middleware import SESSION_SEEN, SESSION_STARTED, SIGNED_OUT_IDLE
from carehub.accounts.tests.factories import TEST_PASSWORD, make_user, totp_code

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "violet-lantern-2208"


@pytest.fixture(autouse=True)
def _start_of_a_totp_period():
    """TOTP codes change every 30 s: each test starts at the beginning of a period, so a code
    the test computes is still current when the server checks it (no flaky boundary)."""
    from allauth.mfa import app_settings

    now = time.time()
    with time_machine.travel(now - now % app_settings.TOTP_PERIOD + 0.2, tick=True):
        yield


def sign_in(client, user, password=TEST_PASSWORD) -> None:
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302, response.content
    if response["Location"] == reverse("mfa_authenticate"):
        client.post(reverse("mfa_authenticate"), {"code": totp_code(user.totp_secret)})
    assert signed_in(client), "sign-in failed"


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def visit(client, **headers):
    """Any request counts as activity; the home page only redirects, so it is cheap."""
    return client.get("/", headers=headers)


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


@pytest.fixture
def t0():
    # Whole-minute start so the arithmetic in the tests reads plainly.
    return timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


# --- idle timeout --------------------------------------------------------------------------------


def test_staff_idle_for_16_minutes_are_signed_out_and_sent_to_the_login_page(client, t0):
    user = make_user(Role.DOCTOR)
    with at(t0):
        sign_in(client, user)

    with at(t0 + timedelta(minutes=16)):
        response = client.get(reverse("mfa_index"))

    assert is_sent_to_login(response)
    assert "next=%2Faccounts%2F2fa%2F" in response["Location"]
    assert not signed_in(client)
    with at(t0 + timedelta(minutes=16)):
        page = client.get(response["Location"])
    assert SIGNED_OUT_IDLE in page.content.decode()


def test_staff_active_every_10_minutes_stay_signed_in_for_an_hour(client, t0):
    user = make_user(Role.NURSE)
    with at(t0):
        sign_in(client, user)

    for minutes in range(10, 61, 10):
        with at(t0 + timedelta(minutes=minutes)):
            assert not is_sent_to_login(visit(client)), minutes
    assert signed_in(client)


def test_staff_idle_for_exactly_15_minutes_are_still_in(client, t0):
    user = make_user(Role.RECEPTIONIST)
    with at(t0):
        sign_in(client, user)

    with at(t0 + timedelta(minutes=15)):
        visit(client)

    assert signed_in(client)


def test_patients_idle_for_20_minutes_stay_signed_in(client, t0):
    user = make_user(Role.PATIENT)
    with at(t0):
        sign_in(client, user)

    with at(t0 + timedelta(minutes=20)):
        response = client.get(reverse("mfa_index"))

    assert response.status_code == 200
    assert signed_in(client)


def test_patients_idle_for_31_minutes_are_signed_out(client, t0):
    user = make_user(Role.PATIENT)
    with at(t0):
        sign_in(client, user)

    with at(t0 + timedelta(minutes=31)):
        response = client.get(reverse("mfa_index"))

    assert is_sent_to_login(response)
    assert not signed_in(client)


def test_background_polling_does_not_keep_a_session_alive(client, t0):
    user = make_user(Role.DOCTOR)
    with at(t0):
        sign_in(client, user)

    for minutes in (5, 10):
        with at(t0 + timedelta(minutes=minutes)):
            visit(client, **{"X-CareHub-Background": "1"})
    with at(t0 + timedelta(minutes=16)):
        response = visit(client, **{"X-CareHub-Background": "1"})

    assert is_sent_to_login(response)


def test_an_expired_session_gets_401_problem_json_on_the_api(client, t0):
    user = make_user(Role.PATIENT)
    with at(t0):
        sign_in(client, user)

    with at(t0 + timedelta(minutes=31)):
        response = client.get("/api/v1/patients/me/")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    assert not signed_in(client)


def test_an_htmx_request_after_the_timeout_redirects_the_whole_page(client, t0):
    user = make_user(Role.DOCTOR)
    with at(t0):
        sign_in(client, user)

    with at(t0 + timedelta(minutes=16)):
        response = visit(client, **{"HX-Request": "true"})

    assert response["HX-Redirect"].startswith(reverse("account_login"))


# --- absolute lifetime ---------------------------------------------------------------------------


def test_a_session_ends_after_12_hours_even_with_activity_every_10_minutes(client, t0):
    user = make_user(Role.DOCTOR)
    with at(t0):
        sign_in(client, user)

    minutes = 10
    while minutes <= 12 * 60:
        with at(t0 + timedelta(minutes=minutes)):
            response = visit(client)
        assert not is_sent_to_login(response), f"signed out after {minutes} minutes"
        minutes += 10
    with at(t0 + timedelta(minutes=minutes)):
        response = visit(client)

    assert is_sent_to_login(response)
    assert not signed_in(client)


def test_the_clocks_start_at_sign_in(client, t0):
    user = make_user(Role.PATIENT)
    with at(t0):
        sign_in(client, user)

    session = client.session
    assert session[SESSION_STARTED] == pytest.approx(t0.timestamp())
    assert session[SESSION_SEEN] == pytest.approx(t0.timestamp())


def test_a_new_sign_in_restarts_the_absolute_lifetime(client, t0):
    user = make_user(Role.PATIENT)
    with at(t0):
        sign_in(client, user)
    with at(t0 + timedelta(hours=11, minutes=50)):
        client.post(reverse("account_logout"))
        sign_in(client, user)

    with at(t0 + timedelta(hours=12, minutes=10)):  # 12 h 10 after the first sign-in
        visit(client)

    assert signed_in(client)


def test_the_session_cookie_dies_with_the_browser_and_outlives_no_limit(client):
    user = make_user(Role.PATIENT)
    sign_in(client, user)

    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["max-age"]
    assert not cookie["expires"]
    assert cookie["httponly"]
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_ABSOLUTE_LIFETIME == 12 * 3600
    assert client.session.get_expiry_age() <= settings.SESSION_ABSOLUTE_LIFETIME


# --- ending sessions at once ---------------------------------------------------------------------


def test_deactivation_ends_every_session_of_the_user_at_once():
    admin = make_user(Role.CLINIC_ADMIN)
    user = make_user(Role.PATIENT)
    laptop, phone = Client(), Client()
    sign_in(laptop, user)
    sign_in(phone, user)
    assert UserSession.objects.filter(user=user).count() == 2

    services.user_deactivate(actor=admin, user=user, reason="left")

    assert UserSession.objects.filter(user=user).count() == 0
    for client in (laptop, phone):
        assert is_sent_to_login(client.get(reverse("mfa_index")))


def test_even_an_untracked_session_dies_because_the_auth_epoch_changed():
    admin = make_user(Role.CLINIC_ADMIN)
    user = make_user(Role.PATIENT)
    client = Client()
    sign_in(client, user)
    UserSession.objects.filter(user=user).delete()  # as if tracking had missed it

    services.user_deactivate(actor=admin, user=user)

    assert is_sent_to_login(client.get(reverse("mfa_index")))


def test_only_an_administrator_can_deactivate_and_not_themselves():
    from carehub.core.exceptions import Forbidden

    admin = make_user(Role.CLINIC_ADMIN)
    with pytest.raises(Forbidden):
        services.user_deactivate(actor=make_user(Role.DOCTOR), user=make_user(Role.PATIENT))
    with pytest.raises(Forbidden):
        services.user_deactivate(actor=admin, user=admin)


# --- password reset ------------------------------------------------------------------------------


def reset_password(client, user, password=NEW_PASSWORD):
    """The real allauth flow: request, emailed link, new password."""
    client.post(reverse("account_reset_password"), {"email": user.email})
    body = mail.outbox[-1].body
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", body).group(1)
    form_url = client.get(link)["Location"]  # the key moves into the session
    response = client.post(form_url, {"password1": password, "password2": password})
    assert response.status_code == 302, response.content
    return response


def test_after_a_reset_the_new_password_signs_in_and_stays_signed_in():
    user = make_user(Role.PATIENT)
    client = Client()

    reset_password(client, user)

    assert not signed_in(client)  # ACCOUNT_LOGIN_ON_PASSWORD_RESET is False
    sign_in(client, user, NEW_PASSWORD)
    assert client.get(reverse("mfa_index")).status_code == 200
    assert signed_in(client)


def test_a_reset_ends_the_other_sessions():
    user = make_user(Role.PATIENT)
    elsewhere = Client()
    sign_in(elsewhere, user)

    reset_password(Client(), user)

    assert is_sent_to_login(elsewhere.get(reverse("mfa_index")))


def test_a_reset_made_while_signed_in_keeps_that_session_only():
    user = make_user(Role.PATIENT)
    here, elsewhere = Client(), Client()
    sign_in(here, user)
    sign_in(elsewhere, user)

    reset_password(here, user)

    assert here.get(reverse("mfa_index")).status_code == 200
    assert signed_in(here)
    assert is_sent_to_login(elsewhere.get(reverse("mfa_index")))
    assert list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == [
        here.session.session_key
    ]


def test_with_login_on_reset_the_new_session_survives_the_epoch_bump(settings):
    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    user = make_user(Role.PATIENT)
    client = Client()

    reset_password(client, user)

    assert signed_in(client)
    assert client.get(reverse("mfa_index")).status_code == 200
    assert signed_in(client)


def test_a_reset_is_audited():
    from carehub.audit.models import Event

    user = make_user(Role.PATIENT)
    reset_password(Client(), user)

    assert Event.objects.filter(name="user.password_reset", object_id=str(user.public_id)).exists()
    user.refresh_from_db()
    assert user.auth_epoch == 1

"""Two-factor authentication: TOTP and recovery codes through allauth.mfa, mandatory for staff,
optional for patients, secrets encrypted at rest, wrong codes counted towards the lockout."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.urls import reverse

from carehub.accounts.adapters import LOCKED_MESSAGE, MFA_SECRET_PURPOSE
from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import TEST_PASSWORD, make_user, totp_code
from carehub.audit.models import Event
from carehub.core import crypto

pytestmark = pytest.mark.django_db
STAFF_ROLES = [r for r in Role if r != Role.PATIENT]


@pytest.fixture(autouse=True)
def _start_of_a_totp_period():
    """TOTP codes change every 30 s: each test starts at the beginning of a period, so a code
    the test computes is still current when the server checks it (no flaky boundary)."""
    from allauth.mfa import app_settings

    now = time.time()
    with time_machine.travel(now - now % app_settings.TOTP_PERIOD + 0.2, tick=True):
        yield


def password_step(client, user, password=TEST_PASSWORD):
    return client.post(reverse("account_login"), {"login": user.email, "password": password})


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


def sign_in(client, user) -> None:
    """The full web sign-in, with the TOTP step when the account has one."""
    response = password_step(client, user)
    assert response.status_code == 302, response.content
    if response["Location"] == reverse("mfa_authenticate"):
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(user.totp_secret)})
        assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)


def reauthenticate(client, password=TEST_PASSWORD) -> None:
    """allauth asks for the password again before any change to the second factor."""
    response = client.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == 302, response.content


# --- signing in with a second factor ---------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_sign_in_needs_the_totp_code_after_the_password(client, role):
    user = make_user(role)

    response = password_step(client, user)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_as(client) is None
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(user.totp_secret)})
    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)
    event = Event.objects.filter(name="user.logged_in", object_id=str(user.public_id)).get()
    assert event.data["method"] == "password+mfa"


def test_the_code_page_is_labelled_for_assistive_technology(client):
    user = make_user(Role.DOCTOR)
    password_step(client, user)

    html = client.get(reverse("mfa_authenticate")).content.decode()

    assert '<label for="id_code">' in html
    assert 'autocomplete="one-time-code"' in html
    assert 'id="id_code"' in html


def test_a_wrong_code_does_not_sign_in_and_counts_as_a_failed_attempt(client):
    user = make_user(Role.NURSE)
    password_step(client, user)

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})

    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert signed_in_as(client) is None
    user.refresh_from_db()
    assert user.failed_logins == 1
    assert Event.objects.filter(name="user.login_failed", object_id=str(user.public_id)).exists()


def test_a_code_cannot_be_used_twice(client):
    user = make_user(Role.DOCTOR)
    code = totp_code(user.totp_secret)
    password_step(client, user)
    client.post(reverse("mfa_authenticate"), {"code": code})
    client.post(reverse("account_logout"))

    password_step(client, user)
    response = client.post(reverse("mfa_authenticate"), {"code": code})

    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_wrong_codes_lock_the_account_and_a_late_right_code_is_refused(client, settings):
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    user = make_user(Role.DOCTOR)
    password_step(client, user)
    for _ in range(3):
        client.post(reverse("mfa_authenticate"), {"code": "000000"})
    user.refresh_from_db()
    assert user.locked_until is not None

    response = client.post(
        reverse("mfa_authenticate"), {"code": totp_code(user.totp_secret)}, follow=True
    )

    assert signed_in_as(client) is None
    assert LOCKED_MESSAGE in response.content.decode()
    assert Event.objects.filter(name="user.locked_out", object_id=str(user.public_id)).exists()


def test_a_recovery_code_signs_in_once(client):
    user = make_user(Role.DOCTOR)
    code = RecoveryCodes.activate(user).get_unused_codes()[0]

    password_step(client, user)
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert signed_in_as(client) == str(user.pk)
    client.post(reverse("account_logout"))

    password_step(client, user)
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_a_patient_without_mfa_signs_in_with_the_password_alone(client):
    user = make_user(Role.PATIENT)

    response = password_step(client, user)

    assert response.status_code == 302
    assert response["Location"] != reverse("mfa_authenticate")
    assert signed_in_as(client) == str(user.pk)


# --- mandatory for staff -----------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_without_mfa_are_sent_to_set_it_up_and_can_do_nothing_else(client, role):
    user = make_user(role, mfa=False)
    sign_in(client, user)

    for url in ("/", reverse("mfa_index").replace("2fa/", "email/"), "/patients/", "/audit/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp"), url


def test_the_redirect_explains_why(client):
    sign_in(client, make_user(Role.RECEPTIONIST, mfa=False))

    response = client.get("/", follow=True)

    # To the set-up page, which first asks for the password again (allauth re-authentication).
    assert response.redirect_chain[0][0] == reverse("mfa_activate_totp")
    assert response.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert response.status_code == 200
    assert "must use two-factor authentication" in response.content.decode()


def test_api_calls_from_a_staff_session_without_mfa_are_403_problem_json(client):
    sign_in(client, make_user(Role.DOCTOR, mfa=False))

    response = client.get("/api/v1/patients/")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert "two-factor" in response.json()["detail"]


def test_htmx_requests_are_redirected_with_hx_redirect(client):
    sign_in(client, make_user(Role.NURSE, mfa=False))

    response = client.get("/patients/", headers={"HX-Request": "true"})

    assert response["HX-Redirect"] == reverse("mfa_activate_totp")


def test_staff_without_mfa_can_still_sign_out(client):
    sign_in(client, make_user(Role.DOCTOR, mfa=False))

    client.post(reverse("account_logout"))

    assert signed_in_as(client) is None


def test_staff_set_up_totp_and_then_get_in(client, django_capture_on_commit_callbacks):
    user = make_user(Role.DOCTOR, mfa=False)
    sign_in(client, user)
    reauthenticate(client)

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'for="id_code"' in html
    secret = page.context["form"].secret
    # templates/mfa/totp/activate_form.html: the QR code is described rather than spelled out
    # as the secret, and the secret is a focusable, copyable read-only field.
    assert f'alt="{secret}"' not in html
    assert 'alt="QR code' in html
    assert re.search(r'<input id="authenticator_secret"[^>]*readonly', html)
    assert "disabled" not in html
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals on commit
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.status_code == 302
    totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert totp.data["secret"] != secret
    assert crypto.decrypt_text(totp.data["secret"], purpose=MFA_SECRET_PURPOSE) == secret
    rc = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    assert crypto.is_encrypted(rc.data["seed"])
    assert Event.objects.filter(name="user.mfa_enabled", object_id=str(user.public_id)).exists()
    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 200
    assert client.get("/").status_code == 302
    assert client.get("/")["Location"] != reverse("mfa_activate_totp")


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_cannot_remove_their_totp(client, role):
    user = make_user(role)
    sign_in(client, user)
    reauthenticate(client)

    response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 200
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


# --- optional for patients ---------------------------------------------------------------------


def test_a_patient_can_turn_totp_on_and_off(client):
    user = make_user(Role.PATIENT)
    sign_in(client, user)
    reauthenticate(client)

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=user).exists()
    assert Event.objects.filter(name="user.mfa_removed", object_id=str(user.public_id)).exists()


def test_a_patient_who_turned_totp_on_is_asked_for_it(client):
    user = make_user(Role.PATIENT, mfa=True)

    response = password_step(client, user)

    assert response["Location"] == reverse("mfa_authenticate")


# --- storage -------------------------------------------------------------------------------------


def test_totp_secrets_are_stored_encrypted():
    user = make_user(Role.DOCTOR)

    stored = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP).data["secret"]

    assert user.totp_secret not in stored
    assert crypto.key_id_of(stored) == crypto.keyring().active
    assert crypto.decrypt_text(stored, purpose=MFA_SECRET_PURPOSE) == user.totp_secret
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(stored, purpose="patients.patient.national_id")

"""Onboarding a clinician: one form creates the account, the verified address and the profile, and
one email lets them set a password; signing in then leads straight to two-factor set-up."""

from __future__ import annotations

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.audit.models import Event
from carehub.core.testing.contracts import client_for, make_actor
from carehub.directory.models import Practitioner
from carehub.directory.tests.factories import SiteFactory

NEW_PASSWORD = "Lantern-orbit-meadow-71"


@pytest.fixture
def admin():
    return make_actor(Role.CLINIC_ADMIN)


@pytest.fixture
def site():
    return SiteFactory(name="Riverside Clinic")


def onboarding_data(site, **overrides):
    data = {
        "email": "Grace.Hopper@Example.org",
        "role": Role.DOCTOR,
        "title": "Dr",
        "first_name": "Grace",
        "last_name": "Hopper",
        "specialties": ["cardiology", "general_practice"],
        "sites": [str(site.public_id)],
        "languages": "en, de",
        "bio": "Cardiologist with an interest in prevention.",
        "registration_number": "GMC 7654321",
    }
    data.update(overrides)
    return data


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, format="PNG")
    return SimpleUploadedFile("portrait.png", buffer.getvalue(), content_type="image/png")


@pytest.mark.django_db
def test_onboarding_creates_account_profile_and_one_invitation_that_leads_to_mfa_setup(
    admin, site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(admin).post(
            reverse("directory:onboard"), {**onboarding_data(site), "photo": _png()}, follow=True
        )
    assert len(callbacks) == 1
    assert response.status_code == 200
    assert "An invitation to set a password" in response.content.decode()

    user = User.objects.get(email="grace.hopper@example.org")
    assert user.role == Role.DOCTOR and not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    practitioner = Practitioner.objects.get(user=user)
    assert sorted(practitioner.specialties.values_list("code", flat=True)) == [
        "cardiology",
        "general_practice",
    ]
    assert list(practitioner.sites.all()) == [site]
    assert practitioner.languages == ["en", "de"]
    assert practitioner.photo
    assert Event.objects.filter(
        name="practitioner.onboarded", object_id=str(practitioner.public_id)
    ).exists()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["grace.hopper@example.org"]
    assert "two-factor" in message.body
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", message.body).group(0)
    assert link.startswith("http://testserver/")

    # The doctor follows the link in a fresh browser and sets a password.
    browser = Client()
    opened = browser.get(link)
    assert opened.status_code == 302  # allauth moves the key out of the URL into the session
    form_url = opened["Location"]
    done = browser.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content.decode()[:2000]
    assert done["Location"] == reverse("account_reset_password_from_key_done")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    # The link works once.
    assert Client().get(link).context["token_fail"] is True

    # Signing in sends a staff member without two-factor authentication to set it up.
    signed_in = browser.post(
        reverse("account_login"), {"login": "grace.hopper@example.org", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302
    home = browser.get(signed_in["Location"])
    assert home.status_code == 302
    assert home["Location"] == reverse("mfa_activate_totp")


@pytest.mark.django_db
def test_duplicate_email_is_a_form_error_and_creates_nothing(
    admin, site, django_capture_on_commit_callbacks
):
    existing = make_actor(Role.NURSE)
    users_before, practitioners_before = User.objects.count(), Practitioner.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            reverse("directory:onboard"), onboarding_data(site, email=existing.email.upper())
        )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "An account with this email address already exists."
    ]
    assert (User.objects.count(), Practitioner.objects.count()) == (
        users_before,
        practitioners_before,
    )
    assert mail.outbox == []


@pytest.mark.django_db
def test_invalid_fields_roll_back_the_account_too(admin, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            reverse("directory:onboard"),
            onboarding_data(site, languages="english, fr", specialties=[]),
        )
    errors = response.context["form"].errors
    assert "languages" in errors and "specialties" in errors
    assert not User.objects.filter(email="grace.hopper@example.org").exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_nurse_may_be_onboarded_without_a_specialty(
    admin, site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            reverse("directory:onboard"),
            onboarding_data(
                site, email="nurse@example.org", role=Role.NURSE, title="", specialties=[]
            ),
        )
    assert response.status_code == 302
    assert User.objects.get(email="nurse@example.org").role == Role.NURSE
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_service_refuses_non_administrators(site):
    from carehub.core.exceptions import Forbidden
    from carehub.directory import services

    doctor = make_actor(Role.DOCTOR)
    with pytest.raises(Forbidden):
        services.practitioner_onboard(
            actor=doctor,
            email="x@example.org",
            first_name="X",
            last_name="Y",
            role=Role.DOCTOR,
            specialties=[],
            sites=[site],
        )
    assert not User.objects.filter(email="x@example.org").exists()

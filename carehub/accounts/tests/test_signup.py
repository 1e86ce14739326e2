"""Patient self-registration through allauth: email verification is mandatory, the patient record
is created with an MRN, the password rules hold and an existing address is not revealed."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.accounts.tests.factories import make_user
from carehub.directory.tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
PASSWORD = "tulip-harbour-4711"


@pytest.fixture
def site():
    return SiteFactory(code="rv", name="Riverside Clinic")


def signup_data(clinic, **overrides) -> dict:
    data = {
        "email": "ada@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "1985-12-10",
        "sex": "female",
        "phone": "+44 7700 900123",
        "site": clinic.pk,
    }
    data.update(overrides)
    return data


def confirm_link() -> str:
    assert mail.outbox, "no email was sent"
    body = str(mail.outbox[-1].body)
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)", body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def login(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_the_signup_page_labels_every_field(client, site):
    response = client.get(reverse("account_signup"))

    assert response.status_code == 200
    html = response.content.decode()
    for field in (
        "email",
        "password1",
        "password2",
        "first_name",
        "last_name",
        "birth_date",
        "sex",
        "phone",
        "site",
    ):
        assert f'for="id_{field}"' in html, field
    assert "Riverside Clinic" in html


def test_a_patient_registers_verifies_the_address_and_signs_in(client, site):
    from carehub.patients.models import Patient

    response = client.post(reverse("account_signup"), signup_data(site))

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="ada@example.org")
    assert user.role == Role.PATIENT
    assert (user.first_name, user.last_name) == ("Ada", "Lovelace")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.org"]
    assert mail.outbox[0].subject.startswith("[CareHub] ")
    assert "_auth_user_id" not in client.session  # not signed in before verification

    patient = Patient.objects.get(user=user)
    assert patient.mrn.startswith("RV-")
    assert (patient.given_name, patient.family_name) == ("Ada", "Lovelace")
    assert str(patient.birth_date) == "1985-12-10"
    assert patient.site == site
    assert patient.email == "ada@example.org"

    # Signing in before confirming only leads back to the "verify your email" page.
    response = login(client, "ada@example.org")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session

    link = confirm_link()
    page = client.get(link)  # GET only shows the confirmation form
    assert page.status_code == 200
    assert not EmailAddress.objects.get(user=user).verified
    response = client.post(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert "_auth_user_id" not in client.session  # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False

    response = login(client, "ada@example.org")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_registration_is_audited(client, site):
    from carehub.audit.models import Event

    client.post(reverse("account_signup"), signup_data(site))

    patient_id = User.objects.get(email="ada@example.org").patient.public_id
    assert Event.objects.filter(name="patient.registered", patient_id=patient_id).exists()


def test_signup_cannot_choose_a_staff_role(client, site):
    client.post(reverse("account_signup"), signup_data(site, role="clinic_admin"))

    assert User.objects.get(email="ada@example.org").role == Role.PATIENT


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab3$xyz", "at least 8 characters"),
        ("password1", "too common"),
        ("84736251903", "entirely numeric"),
        ("ada@example.org", "too similar"),
    ],
)
def test_weak_passwords_are_rejected(client, site, password, message):
    response = client.post(
        reverse("account_signup"), signup_data(site, password1=password, password2=password)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="ada@example.org").exists()
    assert not mail.outbox


def test_eight_characters_are_enough_for_a_patient(client, site):
    response = client.post(
        reverse("account_signup"), signup_data(site, password1="qz7!kLp2", password2="qz7!kLp2")
    )

    assert response.status_code == 302
    assert User.objects.filter(email="ada@example.org").exists()


def test_mismatched_passwords_are_rejected(client, site):
    response = client.post(reverse("account_signup"), signup_data(site, password2=PASSWORD + "x"))

    assert response.status_code == 200
    assert not User.objects.filter(email="ada@example.org").exists()


def test_a_clinic_must_be_chosen(client, site):
    response = client.post(reverse("account_signup"), signup_data(site, site=""))

    assert response.status_code == 200
    assert 'id="id_site"' in response.content.decode()
    assert not User.objects.filter(email="ada@example.org").exists()


def test_an_existing_address_gets_the_same_answer_and_an_email_instead_of_an_error(client, site):
    existing = make_user(email="ada@example.org")

    response = client.post(reverse("account_signup"), signup_data(site, first_name="Mallory"))

    # Same redirect as a real sign-up: the page reveals nothing about the address.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email__iexact="ada@example.org").count() == 1
    existing.refresh_from_db()
    assert existing.first_name != "Mallory"
    # The owner of the address is told instead.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.org"]
    assert "already" in mail.outbox[0].body.lower()


def test_an_existing_address_in_other_case_is_not_revealed_either(client, site):
    make_user(email="ada@example.org")

    response = client.post(reverse("account_signup"), signup_data(site, email="ADA@Example.org"))

    assert response.status_code == 302
    assert User.objects.filter(email__iexact="ada@example.org").count() == 1


def test_a_tampered_confirmation_link_verifies_nothing(client, site):
    client.post(reverse("account_signup"), signup_data(site))
    link = confirm_link()
    tampered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]

    client.post(tampered)

    assert not EmailAddress.objects.get(email="ada@example.org").verified


def test_details_the_patient_service_refuses_come_back_as_form_errors(client, site):
    response = client.post(reverse("account_signup"), signup_data(site, birth_date="2999-01-01"))

    assert response.status_code == 200
    assert "future" in response.content.decode()
    assert not User.objects.filter(email="ada@example.org").exists()


def test_a_failure_while_creating_the_patient_record_leaves_no_account(client, site, monkeypatch):
    """Sign-up is one transaction: if the patient record cannot be written, no user remains."""
    from carehub.patients import services as patient_services

    def broken_register(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(patient_services, "patient_register", broken_register)
    with pytest.raises(RuntimeError):
        client.post(reverse("account_signup"), signup_data(site))
    assert not User.objects.filter(email="ada@example.org").exists()

"""Staff sign-in in a real browser: password then TOTP code for staff with MFA; staff without MFA
can reach nothing but the TOTP set-up page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import TEST_PASSWORD, Authenticator, make_user

from .conftest import fresh_totp_code, sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_administrator_signs_in_with_password_and_totp_code(new_page):
    admin = make_user(Role.CLINIC_ADMIN, first_name="Amelia", last_name="Clarke")
    make_user(Role.DOCTOR)
    make_user(Role.DOCTOR)
    for _ in range(3):
        make_user(Role.PATIENT)
    make_user(Role.NURSE, is_active=False)  # inactive accounts are not counted
    page, problems = new_page()

    sign_in(page, admin.email, TEST_PASSWORD)

    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    page.get_by_label("Code").fill(fresh_totp_code(admin.totp_secret))
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()

    expect(page).to_have_url(re.compile(r"/users/admin/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic administration")
    counts = page.get_by_role("table", name=re.compile("active accounts?, by role"))
    expect(counts.locator("caption")).to_have_text("6 active accounts, by role")
    expect(counts.get_by_role("row", name="Doctor")).to_contain_text("2")
    expect(counts.get_by_role("row", name="Patient")).to_contain_text("3")
    expect(page.get_by_text(f"Signed in as {admin.email}")).to_be_visible()
    assert problems.all() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_without_two_factor_are_held_at_the_totp_set_up_page(new_page):
    doctor = make_user(Role.DOCTOR, mfa=False)
    page, problems = new_page()

    sign_in(page, doctor.email, TEST_PASSWORD)

    # allauth asks for the password again before any change to the second factor, then
    # continues to the set-up page.
    expect(page).to_have_url(
        re.compile(r"/accounts/reauthenticate/\?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F$")
    )
    expect(page.get_by_text("Staff accounts must use two-factor authentication")).to_be_visible()
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Activate Authenticator App")

    page.goto("/patients/mine/")

    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(page.get_by_text("Staff accounts must use two-factor authentication")).to_be_visible()
    assert not Authenticator.objects.filter(user=doctor).exists()

    # Setting up TOTP with the secret shown on the page opens the doctor's home.
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    page.get_by_label("Authenticator code").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
    page.wait_for_load_state()
    page.goto("/patients/mine/")
    expect(page).to_have_url(re.compile(r"/patients/mine/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My patients")
    assert Authenticator.objects.filter(user=doctor, type=Authenticator.Type.TOTP).exists()
    assert problems.all() == []

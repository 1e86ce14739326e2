"""Patient self-registration in a real browser: sign-up form, verification email over real SMTP,
confirmation link, first sign-in, the patient's home and their access log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.directory.tests.factories import SiteFactory
from carehub.patients.models import Patient

EMAIL = "grace.hopper@example.org"
PASSWORD = "lantern-orchard-5813"
CONFIRM_LINK = re.compile(r"(https?://[^/\s]+)(/accounts/confirm-email/[^/\s]+/)")


def _text_body(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else message.get_content()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_patient_registers_verifies_their_email_and_signs_in(new_page, live_server, smtp_server):
    SiteFactory(code="oak", name="Oakfield Surgery")
    clinic = SiteFactory(code="rvs", name="Riverside Clinic")
    page, problems = new_page()

    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Date of birth").fill("1986-12-09")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Mobile phone").fill("+44 7700 900456")
    page.get_by_label("Your clinic").select_option(label="Riverside Clinic")
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()

    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("verify", re.I))
    assert User.objects.get(email=EMAIL).role == Role.PATIENT
    assert not User.objects.get(email=EMAIL).emailaddress_set.get().verified

    [message] = smtp_server.wait_for(1)
    assert message["To"] == EMAIL
    body = _text_body(message)
    match = CONFIRM_LINK.search(body)
    assert match, body
    assert match.group(1) == live_server.url  # the link points at the site the patient used
    page.goto(match.group(2))
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    assert User.objects.get(email=EMAIL).emailaddress_set.get().verified
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(re.compile(r"/patients/me/$"))
    patient = Patient.objects.get(user__email=EMAIL)
    assert patient.site == clinic
    assert (patient.given_name, patient.family_name) == ("Grace", "Hopper")
    details = page.get_by_role("table", name="Personal details")
    expect(details.get_by_role("row", name="Name")).to_contain_text("Grace Hopper")
    expect(details.get_by_role("row", name="MRN")).to_contain_text(patient.mrn)
    assert patient.mrn.strip()
    expect(details.get_by_role("row", name="Site")).to_contain_text("Riverside Clinic")

    page.get_by_role("link", name="Who has viewed my record").click()
    expect(page).to_have_url(re.compile(r"/audit/my-access/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Who viewed my record")
    expect(page.get_by_role("table", name=re.compile("Views of your record"))).to_be_visible()
    assert problems.all() == []

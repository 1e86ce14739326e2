"""Keyboard and small-screen sanity in a real browser: the skip link comes first and works,
fields are labelled, and the patient's home fits a phone screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import TEST_PASSWORD, make_user
from carehub.patients.tests.factories import PatientFactory, make_patient_user

from .conftest import PHONE, sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_first_tab_on_the_login_page_reaches_the_skip_link_which_jumps_to_the_content(page):
    page.goto("/accounts/login/")
    skip = page.get_by_role("link", name="Skip to main content")
    # Off-screen until focused (carehub.css): proves the stylesheet loaded too.
    assert skip.bounding_box()["x"] < 0

    page.keyboard.press("Tab")

    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, box
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="sign up")).to_be_focused()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_login_fields_have_accessible_labels(page):
    page.goto("/accounts/login/")

    email = page.get_by_label("Email")
    expect(email).to_have_attribute("name", "login")
    expect(email).to_have_attribute("type", "email")
    expect(email).to_have_attribute("autocomplete", "email")
    expect(page.get_by_label("Password")).to_have_attribute("name", "password")
    expect(page.get_by_label("Password")).to_have_attribute("autocomplete", "current-password")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_patient_home_fits_a_phone_screen_without_sideways_scrolling(new_page):
    patient = make_patient_user(
        given_name="Maximiliana",
        family_name="Featherstonehaugh-Wolfeschlegelsteinhausen",
        address_line="Flat 12, Riverside Court, 1234 Extraordinarily Long Street Name",
    )
    page, problems = new_page(PHONE)

    sign_in(page, patient.user.email, TEST_PASSWORD)

    expect(page).to_have_url(re.compile(r"/patients/me/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My record")
    expect(page.get_by_text("Featherstonehaugh-Wolfeschlegelsteinhausen").first).to_be_visible()
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    assert widths["client"] <= PHONE["width"]
    assert widths["scroll"] <= widths["client"], widths
    # The wide navigation gives way to the menu on a phone.
    expect(page.locator(".nav-wide")).to_be_hidden()
    menu = page.get_by_text("Menu", exact=True)
    expect(menu).to_be_visible()
    menu.click()
    expect(
        page.locator(".nav-menu").get_by_role("link", name="My record", exact=True)
    ).to_be_visible()
    assert problems.all() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_patients_own_details_fit_a_phone_screen_with_a_long_email_address(new_page):
    user = make_user(Role.PATIENT, email="maximiliana.featherstonehaugh@example.com")
    PatientFactory(user=user, email=user.email)
    page, _ = new_page(PHONE)

    sign_in(page, user.email, TEST_PASSWORD)

    expect(page).to_have_url(re.compile(r"/patients/me/$"))
    details = page.get_by_role("table", name="Personal details")
    expect(details.get_by_role("row", name=re.compile(r"^Email "))).to_contain_text(user.email)
    wrap = details.locator("xpath=..")
    scroll, client = wrap.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert scroll <= client, f"the table scrolls sideways: {scroll} > {client} px"

"""The symptom checker in a real browser: a signed-in patient describes a complaint, answers the
questions, reads the result and follows its booking link to the booking page with the specialty
already chosen; the question page fits a phone.

Which questions come up and which specialty is suggested depend on the knowledge base, so the
test answers whatever is asked and follows whichever booking link the result offers (a doctor
is bookable in every specialty the sore throat is likely to be sent to)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from carehub.accounts.tests.factories import TEST_PASSWORD
from carehub.directory.models import Specialty
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling.tests.factories import bookable_doctor, make_site
from carehub.triage.models import TriageSession

from .conftest import PHONE, sign_in

COMPLAINT = "I have had a sore throat and a fever for two days, no cough"
LIKELY_SPECIALTIES = ("general_practice", "ent", "infectious_disease")
MAX_QUESTIONS = 30
BOOK_LINK = re.compile(r"^Book an? .+ appointment — In person$")


def _start_check(page: Page) -> None:
    page.goto("/symptoms/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your symptoms")
    expect(page.get_by_text("This is not a diagnosis.")).to_be_visible()
    page.get_by_label("Age in years").fill("30")
    page.get_by_label("Female").check()
    page.get_by_label("Describe what you feel, in your own words").fill(COMPLAINT)
    with page.expect_navigation():
        page.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/symptoms/[0-9a-f-]{36}/$"))


def _answer_until_the_result(page: Page) -> int:
    for asked in range(MAX_QUESTIONS):
        not_sure = page.get_by_role("button", name="Not sure")
        if not_sure.count() == 0:
            return asked
        expect(page.get_by_text(f"Question {asked + 1} (at most")).to_be_visible()
        with page.expect_navigation():
            not_sure.click()
    raise AssertionError(f"no result after {MAX_QUESTIONS} answers")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_patient_checks_symptoms_and_books_the_suggested_specialty(new_page):
    site = make_site(name="Riverside Clinic", emergency_phone="112")
    for code in LIKELY_SPECIALTIES:
        bookable_doctor(site=site, specialty_code=code)
    patient = make_patient_user(site=site)
    page, problems = new_page()
    sign_in(page, patient.user.email, TEST_PASSWORD)

    _start_check(page)
    # One question at a time, with its answers and why it is asked.
    expect(page.get_by_role("button", name="Yes")).to_be_visible()
    expect(page.get_by_role("button", name="No", exact=True)).to_be_visible()
    expect(page.get_by_text("Why we ask")).to_be_visible()
    asked = _answer_until_the_result(page)

    # The result: the advice, why, and the way to book.
    check = TriageSession.objects.get(patient=patient)
    assert check.status == "done" and check.questions_asked == asked
    expect(page.get_by_role("heading", name="Why we say this")).to_be_visible()
    expect(page.get_by_text("This is not a diagnosis.")).to_be_visible()
    if check.triage == "emergency":
        pytest.fail(f"a sore throat for two days came out as an emergency: {check.result_data}")
    link = page.get_by_role("link", name=BOOK_LINK)
    expect(link).to_have_count(1)
    href = link.get_attribute("href") or ""
    code = re.match(r"^/appointments/book/([\w-]+)/\?", href)
    assert code, href
    assert f"triage={check.public_id}" in href
    label = Specialty.objects.get(code=code.group(1)).label
    link.click()

    # The booking page, the specialty already chosen (step 2): no need to pick it again.
    expect(page).to_have_url(re.compile(rf"/appointments/book/{code.group(1)}/\?"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Book an appointment: {label}")
    expect(page.get_by_role("article").first).to_be_visible()
    assert problems.all() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_question_page_fits_a_phone(new_page):
    page, problems = new_page(PHONE)
    _start_check(page)
    expect(page.get_by_role("button", name="Not sure")).to_be_visible()
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the question page scrolls sideways on a phone: {widths}"
    # The three answers are big enough to tap (WCAG 2.5.8: at least 24 by 24 CSS pixels).
    for name in ("Yes", "No", "Not sure"):
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box and box["width"] >= 24 and box["height"] >= 24, (name, box)
    assert problems.all() == []

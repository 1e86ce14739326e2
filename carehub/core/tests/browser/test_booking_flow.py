"""Booking in a real browser: a patient signs in, picks a specialty, a time, confirms, and gets
the confirmation with its calendar file; the list of times follows other people's bookings
live (htmx polling under the strict CSP) and the pages fit a phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar
from playwright.sync_api import expect

from carehub.accounts.tests.factories import TEST_PASSWORD
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import services
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import bookable_doctor, make_site

from .conftest import PHONE, sign_in


def _start_of(href: str) -> datetime:
    return datetime.fromisoformat(parse_qs(urlsplit(href).query)["start"][0])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_patient_books_in_three_steps_and_gets_the_calendar_file(new_page):
    site = make_site(name="Riverside Clinic")
    doctor = bookable_doctor(site=site, specialty_code="dermatology")
    patient = make_patient_user()
    page, problems = new_page()
    sign_in(page, patient.user.email, TEST_PASSWORD)

    # Step 1: the specialty.
    page.goto("/appointments/book/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    page.get_by_role("link", name="Dermatology").click()

    # Step 2: the doctor's next free times, soonest first.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Book an appointment: Dermatology")
    card = page.get_by_role("article", name=doctor.display_name)
    first = card.get_by_role("list").get_by_role("link").first
    chosen = _start_of(first.get_attribute("href") or "")
    first.click()

    # Step 3: the summary and the reason, then confirm.
    expect(page).to_have_url(re.compile(r"/appointments/book/confirm/\?"))
    summary = page.get_by_role("article", name="Your appointment")
    expect(summary).to_contain_text(doctor.display_name)
    expect(summary).to_contain_text("Europe/London")
    page.get_by_label("Reason for the visit").fill("Itchy rash on the arm")
    page.get_by_role("button", name="Confirm booking").click()

    # The confirmation: the appointment, how to cancel, and the calendar file.
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.start == chosen.astimezone(UTC)
    expect(page).to_have_url(re.compile(rf"/appointments/{appointment.public_id}/$"))
    expect(page.get_by_role("status")).to_contain_text("Booked:")
    expect(page.get_by_role("heading", name="Cancel or reschedule")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel appointment")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the calendar file (.ics)").click()
    path = download.value.path()
    with open(path, "rb") as ics:
        [event] = Calendar.from_ical(ics.read()).walk("VEVENT")
    assert event.decoded("dtstart") == appointment.start
    assert download.value.suggested_filename.endswith(".ics")
    assert problems.all() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_times_booked_by_someone_else_disappear_without_a_reload_on_a_phone(new_page):
    doctor = bookable_doctor(specialty_code="dermatology")
    patient = make_patient_user()
    page, problems = new_page(PHONE)
    sign_in(page, patient.user.email, TEST_PASSWORD)

    page.goto("/appointments/book/dermatology/")
    card = page.get_by_role("article", name=doctor.display_name)
    first = card.get_by_role("list").get_by_role("link").first
    href = first.get_attribute("href") or ""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways on a phone: {widths}"

    services.appointment_book(
        actor=make_patient_user().user,
        practitioner=doctor,
        start=_start_of(href),
        mode="in_person",
    )

    # The grid polls every 5 s; the time just taken goes, and a polite status says why.
    expect(page.locator(f'#slot-grid a[href="{href}"]')).to_have_count(0, timeout=12_000)
    expect(page.locator("#slot-grid").get_by_role("status")).to_contain_text(
        "just booked by someone else"
    )
    assert problems.all() == []

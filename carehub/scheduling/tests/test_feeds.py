"""Private calendar feeds: created on a page that shows the URL once, served without sign-in,
carrying no patient data, and gone once revoked."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.testing.contracts import client_for
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import services
from carehub.scheduling.models import CalendarFeed
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local

pytestmark = pytest.mark.django_db

FEEDS = reverse("scheduling:feeds")
FEED_URL = re.compile(r'value="(https?://[^"]+/appointments/feeds/[A-Za-z0-9_-]+\.ics)"')


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def appointment(doctor):
    site = doctor.sites.first()
    patient = make_patient_user(given_name="Zebedee", family_name="Quartermain")
    return services.appointment_book(
        actor=patient.user,
        practitioner=doctor,
        start=local(site, days_ahead(2), 9, 30),
        mode="video",
        reason="Recurring migraines",
    )


def create_feed(client) -> str:
    response = client.post(FEEDS, {"action": "create"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    found = FEED_URL.search(response.content.decode())
    assert found, "the new feed URL is shown"
    return found.group(1)


def test_feed_serves_valid_ics_without_patient_data_and_404_after_revoke(doctor, appointment):
    client = client_for(doctor.user)
    url = create_feed(client)
    path = url.split("testserver", 1)[1]

    response = Client().get(path)  # calendar apps do not sign in
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert str(event["summary"]) == "Video appointment"
    assert event.decoded("dtstart") == appointment.start
    assert str(appointment.public_id) in str(event["uid"])
    for secret in ("Zebedee", "Quartermain", "migraines", appointment.patient.mrn):
        assert secret not in body
    assert CalendarFeed.objects.get().last_used_at is not None

    page = client.get(FEEDS).content.decode()
    assert url not in page  # shown once only
    feed = CalendarFeed.objects.get()
    response = client.post(FEEDS, {"action": "revoke", "feed": feed.token_hash}, follow=True)
    assert "The feed was revoked" in response.content.decode()
    assert Client().get(path).status_code == 404


def test_unknown_or_malformed_tokens_are_404(doctor):
    good = "A" * 43
    assert Client().get(reverse("scheduling:feed", kwargs={"token": good})).status_code == 404
    for bad in ("short", "x" * 300, "with.dot" * 6, "%00" * 20):
        assert Client().get(f"/appointments/feeds/{bad}.ics").status_code == 404


def test_administrator_manages_a_practitioners_feeds(doctor):
    admin = make_user(Role.CLINIC_ADMIN)
    client = client_for(admin)
    assert "Choose a practitioner" in client.get(FEEDS).content.decode()
    response = client.post(f"{FEEDS}?practitioner={doctor.public_id}", {"action": "create"})
    assert FEED_URL.search(response.content.decode())
    assert CalendarFeed.objects.get().practitioner == doctor
    # Without a practitioner chosen there is nothing to create a feed for.
    assert client.post(FEEDS, {"action": "create"}).status_code == 404


def test_a_doctor_cannot_revoke_a_colleagues_feed(doctor):
    colleague = bookable_doctor()
    feed, _ = services.feed_create(actor=colleague.user, practitioner=colleague)
    response = client_for(doctor.user).post(FEEDS, {"action": "revoke", "feed": feed.token_hash})
    assert response.status_code == 404
    feed.refresh_from_db()
    assert feed.revoked_at is None


def test_bad_feed_form_is_a_message(doctor):
    response = client_for(doctor.user).post(
        FEEDS, {"action": "revoke", "feed": "not-a-hash"}, follow=True
    )
    assert response.status_code == 200
    assert "Choose a feed to revoke" in response.content.decode()

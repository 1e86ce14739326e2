"""The patient scheduling pages through the test client: booking in three steps, a time taken
while the patient was deciding, cancel and reschedule, the waitlist and its offers, and
reception booking for a patient."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord
from carehub.directory.tests.factories import make_practitioner
from carehub.patients.tests.factories import PatientFactory, make_patient_user
from carehub.scheduling import services
from carehub.scheduling.choices import OfferStatus, Status, WaitlistStatus
from carehub.scheduling.models import Appointment, WaitlistEntry, WaitlistOffer
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local

pytestmark = pytest.mark.django_db

CONFIRM_LINK = re.compile(r'href="(/appointments/book/confirm/\?[^"]+)"')


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def site(doctor):
    return doctor.sites.first()


@pytest.fixture
def patient():
    return make_patient_user()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client(patient):
    return signed_in(patient.user)


def book(patient, doctor, start, mode="in_person"):
    return services.appointment_book(
        actor=patient.user, practitioner=doctor, start=start, mode=mode
    )


def start_of(link: str) -> datetime:
    """The slot time a step-2 link leads to."""
    query = parse_qs(urlsplit(html.unescape(link)).query)
    return datetime.fromisoformat(query["start"][0])


def confirm_data(doctor, start, **extra):
    return {
        "practitioner": str(doctor.public_id),
        "start": start.isoformat(),
        "mode": "in_person",
        **extra,
    }


# --- booking --------------------------------------------------------------------------------------
def test_three_steps_book_an_appointment_with_a_calendar_file(client, doctor, site, patient):
    # Step 1, arriving from the symptom checker with the specialty chosen: straight to step 2.
    response = client.get(reverse("scheduling:book"), {"specialty": "general_practice"})
    step2 = reverse("scheduling:book_slots", kwargs={"specialty_code": "general_practice"})
    assert response.status_code == 302 and response["Location"] == step2
    response = client.get(reverse("scheduling:book"))
    assert step2 in response.content.decode()

    # Step 2: the doctor with their next free times, each a link to step 3.
    page = client.get(step2).content.decode()
    assert doctor.display_name in page
    assert 'hx-trigger="every 5s"' in page
    links = [html.unescape(link) for link in CONFIRM_LINK.findall(page)]
    assert len(links) == 6

    # Step 3: the summary, then confirm.
    page = client.get(links[0]).content.decode()
    assert "Confirm booking" in page and site.name in page and "Europe/London" in page
    form = {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    form.update(mode="in_person", reason="Sore throat")
    response = client.post(reverse("scheduling:book_confirm"), form)
    appointment = Appointment.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "scheduling:detail", kwargs={"public_id": appointment.public_id}
    )
    assert appointment.reason == "Sore throat" and appointment.booked_by == patient.user

    # The confirmation: the appointment, the calendar file, how to cancel.
    page = client.get(response["Location"]).content.decode()
    assert "Booked:" in page
    ics_url = reverse("scheduling:ics", kwargs={"public_id": appointment.public_id})
    assert ics_url in page
    assert reverse("scheduling:cancel", kwargs={"public_id": appointment.public_id}) in page
    assert "2 hours before it starts" in page

    response = client.get(ics_url)
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith("attachment;")
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    assert event.decoded("dtstart") == appointment.start
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert event.decoded("dtend") == appointment.end


def test_unknown_specialties_are_refused(client):
    response = client.get(reverse("scheduling:book"), {"specialty": "astrology"})
    assert response.status_code == 200 and "not available" in response.content.decode()
    missing = reverse("scheduling:book_slots", kwargs={"specialty_code": "astrology"})
    assert client.get(missing).status_code == 404


def test_filters_narrow_step_two(client, doctor, site):
    video_only = bookable_doctor(site=site, mode="video")
    step2 = reverse("scheduling:book_slots", kwargs={"specialty_code": "general_practice"})
    page = client.get(step2, {"mode": "in_person"}).content.decode()
    assert doctor.display_name in page and video_only.display_name in page
    links = [html.unescape(link) for link in CONFIRM_LINK.findall(page)]
    assert str(video_only.public_id) not in "".join(links)
    # From a later date: every time shown is on or after it.
    later = days_ahead(5)
    page = client.get(step2, {"date": later.isoformat()}).content.decode()
    starts = [start_of(link) for link in CONFIRM_LINK.findall(page)]
    assert starts and all(s >= local(site, later, 0, 0) for s in starts)
    # Garbage in a filter is ignored, never a 500.
    assert client.get(step2, {"date": "soon", "site": "x", "mode": "?"}).status_code == 200


def test_the_slot_grid_refreshes_and_drops_a_time_someone_else_booked(client, doctor, site):
    step2 = reverse("scheduling:book_slots", kwargs={"specialty_code": "general_practice"})
    first = client.get(step2, headers={"HX-Request": "true"})
    partial = first.content.decode()
    assert "<html" not in partial and 'id="slot-grid"' in partial
    # Polling is background traffic: it does not keep an idle session alive.
    assert """hx-headers='{"X-CareHub-Background": "1"}'""" in partial
    poll = html.unescape(re.search(r'hx-get="([^"]+)"', partial).group(1))  # type: ignore[union-attr]
    # Nothing changed: 204, so htmx leaves the grid (and the patient's focus) alone.
    assert client.get(poll, headers={"HX-Request": "true"}).status_code == 204
    # Someone else books the first time shown: the next poll drops it.
    taken = start_of(CONFIRM_LINK.findall(partial)[0])
    book(make_patient_user(), doctor, taken)
    response = client.get(poll, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert taken not in [start_of(link) for link in CONFIRM_LINK.findall(response.content.decode())]
    assert "just booked by someone else" in response.content.decode()


def test_a_poll_after_signing_out_sends_the_browser_to_sign_in(doctor):
    step2 = reverse("scheduling:book_slots", kwargs={"specialty_code": "general_practice"})
    response = Client().get(
        step2 + "?partial=1", headers={"HX-Request": "true", "HX-Current-URL": step2}
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("account_login"))
    assert "next=" in response["HX-Redirect"]


def test_a_time_taken_before_confirming_says_why_and_offers_alternatives(
    client, doctor, site, patient
):
    start = local(site, days_ahead(3), 10, 0)
    book(make_patient_user(), doctor, start)

    # Opening step 3 for it already says it is gone.
    page = client.get(reverse("scheduling:book_confirm"), confirm_data(doctor, start))
    assert page.status_code == 200
    assert "can no longer be booked" in page.content.decode()
    assert "Confirm booking" not in page.content.decode()

    # Confirming anyway (the page was open before): 409, the reason, one-click alternatives.
    response = client.post(
        reverse("scheduling:book_confirm"), confirm_data(doctor, start, reason="Back pain")
    )
    assert response.status_code == 409
    text = response.content.decode()
    assert "This time has just been booked by someone else." in text
    alternatives = re.findall(r'name="start" value="([^"]+)"', text)
    assert alternatives and start.astimezone(UTC).isoformat() not in alternatives
    assert 'name="reason" value="Back pain"' in text
    assert not Appointment.objects.filter(patient=patient).exists()

    # One click on the first alternative books it, with the reason kept.
    response = client.post(
        reverse("scheduling:book_confirm"),
        confirm_data(doctor, datetime.fromisoformat(alternatives[0])) | {"reason": "Back pain"},
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.start.isoformat() == alternatives[0]
    assert appointment.reason == "Back pain"


def test_a_broken_confirmation_link_is_a_400_not_a_500(client, doctor):
    url = reverse("scheduling:book_confirm")
    assert client.get(url).status_code == 400
    assert client.get(url, {"practitioner": "nope", "start": "then"}).status_code == 400
    naive = {"practitioner": str(doctor.public_id), "start": "2030-01-01T09:00:00"}
    assert client.get(url, naive).status_code == 400
    other = {"practitioner": "00000000-0000-0000-0000-000000000000", "start": "2030-01-01T09:00Z"}
    assert client.get(url, other).status_code == 404


def test_a_patient_cannot_book_two_things_at_once(client, site, patient):
    first = bookable_doctor(site=site)
    second = bookable_doctor(site=site)
    start = local(site, days_ahead(4), 9, 0)
    book(patient, first, start)
    response = client.post(reverse("scheduling:book_confirm"), confirm_data(second, start))
    assert response.status_code == 409
    assert "You already have an appointment at this time." in response.content.decode()


def test_reception_books_for_a_patient_named_in_the_link(doctor, site):
    receptionist = make_user(Role.RECEPTIONIST)
    client = signed_in(receptionist)
    someone = PatientFactory(site=site)
    start = local(site, days_ahead(2), 11, 0)
    params = confirm_data(doctor, start, patient=str(someone.public_id))

    step2 = reverse("scheduling:book_slots", kwargs={"specialty_code": "general_practice"})
    page = client.get(step2, {"patient": str(someone.public_id)}).content.decode()
    assert someone.family_name in page
    assert f"patient={someone.public_id}" in html.unescape(page)
    page = client.get(reverse("scheduling:book_confirm"), params).content.decode()
    assert someone.family_name in page and "Reason for the visit" not in page
    assert AccessRecord.objects.filter(
        patient_id=someone.public_id, actor_id=receptionist.public_id, category="demographics"
    ).exists()

    response = client.post(reverse("scheduling:book_confirm"), params)
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient=someone)
    assert appointment.booked_by == receptionist and appointment.start == start

    # Without a patient there is nothing to book; with someone else's id, nothing is found.
    assert (
        client.get(reverse("scheduling:book_confirm"), confirm_data(doctor, start)).status_code
        == 400
    )
    unknown = confirm_data(doctor, start, patient="00000000-0000-0000-0000-000000000000")
    assert client.post(reverse("scheduling:book_confirm"), unknown).status_code == 404


def test_staff_see_an_appointment_read_only_and_the_reason_only_if_clinicians(
    doctor, site, patient
):
    appointment = services.appointment_book(
        actor=patient.user,
        practitioner=doctor,
        start=local(site, days_ahead(3), 9, 0),
        mode="video",
        reason="Rash on my arm",
    )
    url = reverse("scheduling:detail", kwargs={"public_id": appointment.public_id})
    reception = signed_in(make_user(Role.RECEPTIONIST)).get(url).content.decode()
    assert patient.family_name in reception and "Rash on my arm" not in reception
    assert "Cancel appointment" not in reception
    clinician = signed_in(doctor.user).get(url).content.decode()
    assert "Rash on my arm" in clinician
    own = signed_in(patient.user).get(url).content.decode()
    assert "Rash on my arm" in own and "Cancel appointment" in own


# --- the patient's appointments ------------------------------------------------------------------
def test_my_appointments_lists_upcoming_then_past(client, doctor, site, patient):
    later = book(patient, doctor, local(site, days_ahead(5), 9, 0))
    sooner = book(patient, doctor, local(site, days_ahead(2), 9, 0))
    gone = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    services.appointment_cancel(actor=patient.user, appointment=gone, reason="Busy")
    page = client.get(reverse("scheduling:mine")).content.decode()
    upcoming, past = page.split('id="past-heading"')
    assert upcoming.index(str(sooner.public_id)) < upcoming.index(str(later.public_id))
    assert str(gone.public_id) in past and str(gone.public_id) not in upcoming
    assert "Cancelled" in past


@pytest.mark.parametrize(
    ("role", "page"),
    [(Role.RECEPTIONIST, "calendar"), (Role.CLINIC_ADMIN, "calendar"), (Role.NURSE, "day")],
)
def test_staff_reaching_appointments_go_to_their_own_page(role, page):
    user = make_practitioner(role=role).user if role == Role.NURSE else make_user(role)
    response = signed_in(user).get(reverse("scheduling:mine"))
    assert response.status_code == 302
    assert response["Location"] == reverse(f"scheduling:{page}")


def test_cancel_through_the_page(client, doctor, site, patient):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    url = reverse("scheduling:cancel", kwargs={"public_id": appointment.public_id})
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": ""}).status_code == 400
    response = client.post(url, {"reason": "I feel better"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancel_reason == "I feel better"
    # Cancelled already: the page says so instead of a form.
    assert client.get(url).status_code == 302


def test_cancel_after_the_cutoff_is_refused_with_the_clinic_number(client, doctor, site, patient):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    site.cancellation_cutoff_minutes = 60 * 24 * 7
    site.phone = "+44 20 7946 0000"
    site.save()
    url = reverse("scheduling:cancel", kwargs={"public_id": appointment.public_id})
    page = client.get(url).content.decode()
    assert "7 days before they start" in page and site.phone in page
    response = client.post(url, {"reason": "Busy"})
    assert response.status_code == 409
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_reschedule_through_the_page(client, doctor, site, patient):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    url = reverse("scheduling:reschedule", kwargs={"public_id": appointment.public_id})
    page = client.get(url).content.decode()
    offered = re.findall(r'name="start" value="([^"]+)"', page)
    assert offered and appointment.start.isoformat() not in offered
    new_start = local(site, days_ahead(4), 11, 0)
    assert new_start.astimezone(UTC).isoformat() in offered

    response = client.post(url, {"start": new_start.isoformat(), "mode": "video"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start == new_start and appointment.mode == "video"

    # A time someone else took meanwhile: 409 with the reason and the nearest free times.
    taken = local(site, days_ahead(5), 10, 0)
    book(make_patient_user(), doctor, taken)
    response = client.post(url, {"start": taken.isoformat(), "mode": "in_person"})
    assert response.status_code == 409
    assert "just been booked by someone else" in response.content.decode()
    assert "Move to" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.start == new_start


# --- waitlist ------------------------------------------------------------------------------------
@pytest.fixture
def one_slot_doctor(site):
    """A doctor with a single 30-minute slot, three days ahead."""
    day = days_ahead(3)
    return bookable_doctor(site=site, weekdays=[day.weekday()], start=time(9), end=time(9, 30))


def join(client, practitioner):
    return client.post(
        reverse("scheduling:waitlist_join"),
        {
            "practitioner": str(practitioner.public_id),
            "date_from": days_ahead(1).isoformat(),
            "date_to": days_ahead(5).isoformat(),
        },
    )


def take_the_slot_and_queue(one_slot_doctor, site, *waiting):
    """Someone holds the only slot; `waiting` patients join its waitlist in that order."""
    holder = make_patient_user()
    held = book(holder, one_slot_doctor, local(site, days_ahead(3), 9, 0))
    for patient in waiting:
        assert join(signed_in(patient.user), one_slot_doctor).status_code == 302
    assert not WaitlistOffer.objects.exists()
    return holder, held


def test_a_cancellation_is_offered_to_the_waitlist_and_accepted(
    client, one_slot_doctor, site, patient
):
    holder, held = take_the_slot_and_queue(one_slot_doctor, site, patient)
    page = client.get(reverse("scheduling:waitlist")).content.decode()
    assert one_slot_doctor.display_name in page and "No time is on offer" in page

    cancel_url = reverse("scheduling:cancel", kwargs={"public_id": held.public_id})
    assert signed_in(holder.user).post(cancel_url, {"reason": "Away"}).status_code == 302

    offer = WaitlistOffer.objects.get(entry__patient=patient, status=OfferStatus.OPEN)
    page = client.get(reverse("scheduling:waitlist")).content.decode()
    assert "Book this time" in page and "Held for you until" in page
    accept = reverse("scheduling:offer_accept", kwargs={"public_id": offer.public_id})
    response = client.post(accept)
    appointment = Appointment.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "scheduling:detail", kwargs={"public_id": appointment.public_id}
    )
    assert appointment.start == held.start
    offer.refresh_from_db()
    assert offer.status == OfferStatus.ACCEPTED
    assert offer.entry.status == WaitlistStatus.BOOKED


def test_a_declined_offer_goes_to_the_next_in_line(client, one_slot_doctor, site, patient):
    second = make_patient_user()
    holder, held = take_the_slot_and_queue(one_slot_doctor, site, patient, second)
    services.appointment_cancel(actor=holder.user, appointment=held, reason="Away")
    offer = WaitlistOffer.objects.get(status=OfferStatus.OPEN)
    assert offer.entry.patient == patient  # first come, first offered

    decline = reverse("scheduling:offer_decline", kwargs={"public_id": offer.public_id})
    assert client.post(decline).status_code == 302
    offer.refresh_from_db()
    assert offer.status == OfferStatus.DECLINED
    assert offer.entry.status == WaitlistStatus.WAITING  # still in line for later times
    passed = WaitlistOffer.objects.get(status=OfferStatus.OPEN)
    assert passed.entry.patient == second and passed.start == held.start


def test_an_expired_offer_goes_to_the_next_in_line(one_slot_doctor, site, patient, time_machine):
    second = make_patient_user()
    holder, held = take_the_slot_and_queue(one_slot_doctor, site, patient, second)
    services.appointment_cancel(actor=holder.user, appointment=held, reason="Away")
    offer = WaitlistOffer.objects.get(status=OfferStatus.OPEN)
    assert offer.entry.patient == patient

    time_machine.move_to(offer.expires_at + timedelta(seconds=1))
    assert services.offers_expire() == 1
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED
    passed = WaitlistOffer.objects.get(status=OfferStatus.OPEN)
    assert passed.entry.patient == second
    # The first patient's page no longer offers it; accepting the old offer is refused.
    client = signed_in(patient.user)
    assert "Book this time" not in client.get(reverse("scheduling:waitlist")).content.decode()
    accept = reverse("scheduling:offer_accept", kwargs={"public_id": offer.public_id})
    response = client.post(accept, follow=True)
    assert "expired" in response.content.decode()
    assert not Appointment.objects.filter(patient=patient).exists()


def test_join_errors_and_leaving(client, doctor):
    response = client.post(
        reverse("scheduling:waitlist_join"),
        {"date_from": days_ahead(1).isoformat(), "date_to": days_ahead(5).isoformat()},
    )
    assert response.status_code == 400
    assert "Choose a practitioner or a specialty." in response.content.decode()
    response = client.post(
        reverse("scheduling:waitlist_join"),
        {
            "specialty": "general_practice",
            "date_from": days_ahead(5).isoformat(),
            "date_to": days_ahead(1).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "Must be on or after the first date." in response.content.decode()

    page = client.get(reverse("scheduling:waitlist"), {"practitioner": str(doctor.public_id)})
    assert f'value="{doctor.public_id}" selected' in page.content.decode()
    assert join(client, doctor).status_code == 302
    entry = WaitlistEntry.objects.get()
    leave = reverse("scheduling:waitlist_leave", kwargs={"public_id": entry.public_id})
    assert client.post(leave).status_code == 302
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.LEFT


def test_pages_never_write_on_get(client, doctor, site, patient):
    appointment = book(patient, doctor, local(site, days_ahead(3), 9, 0))
    for name in ("cancel", "reschedule"):
        url = reverse(f"scheduling:{name}", kwargs={"public_id": appointment.public_id})
        client.get(url, {"reason": "x", "start": local(site, days_ahead(4), 9, 0).isoformat()})
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED and appointment.reschedule_count == 0
    for name in ("waitlist_join", "offer_accept"):
        kwargs = {} if name == "waitlist_join" else {"public_id": appointment.public_id}
        assert client.get(reverse(f"scheduling:{name}", kwargs=kwargs)).status_code == 405


def test_a_doctor_is_not_a_booker(doctor):
    other = make_practitioner()
    assert signed_in(other.user).get(reverse("scheduling:book")).status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "start=0001-01-01T00:00%2B01:00&mode=in_person",
        "start=9999-12-31T23:59%2B00:00&mode=in_person",
    ],
)
def test_out_of_range_times_and_dates_are_form_errors_not_500s(client, doctor, query):
    confirm = client.get(
        f"{reverse('scheduling:book_confirm')}?practitioner={doctor.public_id}&{query}"
    )
    assert confirm.status_code in {200, 400}
    for date_text in ("0001-01-01", "9999-12-31"):
        step2 = client.get(
            reverse("scheduling:book_slots", args=["general_practice"]) + f"?date={date_text}"
        )
        assert step2.status_code == 200
        waitlist = client.post(
            reverse("scheduling:waitlist_join"),
            {"practitioner": str(doctor.public_id), "date_from": date_text, "date_to": date_text},
        )
        assert waitlist.status_code == 400  # the form, with its errors
    assert not WaitlistEntry.objects.exists()

"""Staff scheduling pages at work: a doctor's day, the reception calendar and reassigning a day."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import Event
from carehub.core.testing.contracts import client_for
from carehub.directory.tests.factories import make_practitioner
from carehub.notifications.models import Message
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import services
from carehub.scheduling.choices import Status
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local, make_site
from carehub.scheduling.tests.test_staff_page_contracts import local_day, make_appointment

pytestmark = pytest.mark.django_db

DAY = reverse("scheduling:day")
CALENDAR = reverse("scheduling:calendar")
REASSIGN = reverse("scheduling:reassign")


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def site(doctor):
    return doctor.sites.first()


@pytest.fixture
def receptionist():
    return make_user(Role.RECEPTIONIST)


_names = itertools.count(1)


def distinct_patient(**kwargs):
    """A patient whose family name no other name on a page can contain (random Faker names
    can: "King" in "Kingsley"), so "not in page" assertions cannot pass or fail by chance."""
    return make_patient_user(family_name=f"Qz{next(_names):05d}x", **kwargs)


def book(receptionist, doctor, start, reason="Persistent cough", patient=None):
    patient = patient or distinct_patient()
    return services.appointment_book(
        actor=receptionist,
        practitioner=doctor,
        start=start,
        mode="in_person",
        reason=reason,
        patient_public_id=patient.public_id,
    )


def transition_url(appointment) -> str:
    return reverse("scheduling:transition", kwargs={"public_id": appointment.public_id})


def _button(status: str) -> str:
    return f'name="status" value="{status}"'


# --- a doctor's day ------------------------------------------------------------------------------
def test_doctor_checks_a_patient_in_and_completes_the_visit(
    doctor, site, receptionist, time_machine
):
    appointment = book(receptionist, doctor, local(site, days_ahead(1), 9, 0))
    time_machine.move_to(appointment.start - timedelta(minutes=10))
    client = client_for(doctor.user)
    page_url = f"{DAY}?date={local_day(appointment)}"

    page = client.get(page_url).content.decode()
    assert appointment.patient.family_name in page
    assert "Persistent cough" in page  # clinicians see the reason for the visit
    assert "09:00" in page and "GMT" in page  # the site's wall clock, with its zone
    assert _button("checked_in") in page
    assert _button("no_show") not in page  # not before the start

    response = client.post(
        transition_url(appointment), {"status": "checked_in", "next": page_url}, follow=True
    )
    assert response.redirect_chain[-1][0] == page_url
    assert "is checked in" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN and appointment.checked_in_at

    page = response.content.decode()
    assert _button("completed") in page and _button("in_progress") in page
    client.post(transition_url(appointment), {"status": "in_progress", "next": page_url})
    client.post(transition_url(appointment), {"status": "completed", "next": page_url})
    appointment.refresh_from_db()
    assert appointment.status == Status.COMPLETED and appointment.completed_at
    names = set(
        Event.objects.filter(object_id=str(appointment.public_id)).values_list("name", flat=True)
    )
    assert {"appointment.checked_in", "appointment.in_progress", "appointment.completed"} <= names
    page = client.get(page_url).content.decode()
    assert "Completed" in page and 'name="status"' not in page


def test_no_show_is_offered_and_accepted_only_after_the_start(
    doctor, site, receptionist, time_machine
):
    appointment = book(receptionist, doctor, local(site, days_ahead(1), 10, 0))
    page_url = f"{DAY}?date={local_day(appointment)}"

    time_machine.move_to(appointment.start - timedelta(minutes=5))
    client = client_for(doctor.user)  # signed in now (sessions end after inactivity)
    assert _button("no_show") not in client.get(page_url).content.decode()
    response = client.post(transition_url(appointment), {"status": "no_show"}, follow=True)
    assert "once the appointment has started" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED

    time_machine.move_to(appointment.start + timedelta(minutes=15))
    client = client_for(doctor.user)
    assert _button("no_show") in client.get(page_url).content.decode()
    client.post(transition_url(appointment), {"status": "no_show", "next": page_url})
    appointment.refresh_from_db()
    assert appointment.status == Status.NO_SHOW


def test_week_groups_appointments_by_day(doctor, site, receptionist):
    monday = days_ahead(7 - days_ahead(0).weekday())  # next week's Monday
    first = book(receptionist, doctor, local(site, monday, 9, 0))
    second = book(receptionist, doctor, local(site, monday + timedelta(days=2), 11, 0))
    page = (
        client_for(doctor.user)
        .get(reverse("scheduling:week") + f"?date={(monday + timedelta(days=3)).isoformat()}")
        .content.decode()
    )
    assert f"Week of {monday.day} " in page
    assert page.count("<section") == 7
    assert page.index(first.patient.family_name) < page.index(second.patient.family_name)


def test_a_doctor_cannot_change_a_colleagues_appointment(doctor, site, receptionist):
    appointment = book(receptionist, doctor, local(site, days_ahead(1), 9, 0))
    colleague = make_practitioner(site=site)
    response = client_for(colleague.user).post(
        transition_url(appointment), {"status": "checked_in"}
    )
    assert response.status_code == 404


def test_nurse_picks_a_practitioner_and_sees_only_patients_they_may_open(doctor, site):
    nurse = make_practitioner(role=Role.NURSE, site=site)
    mine = make_appointment(doctor, patient=distinct_patient())
    other = make_appointment(
        doctor, start=mine.end + timedelta(minutes=30), patient=distinct_patient()
    )
    from carehub.patients.tests.factories import relate

    relate(nurse, mine.patient)
    page = (
        client_for(nurse.user)
        .get(f"{DAY}?date={local_day(mine)}&practitioner={doctor.public_id}")
        .content.decode()
    )
    assert mine.patient.family_name in page
    assert other.patient.family_name not in page
    assert 'name="status"' not in page  # clinicians change their own appointments only


def test_transition_never_redirects_off_site(doctor, site, receptionist, time_machine):
    appointment = book(receptionist, doctor, local(site, days_ahead(1), 9, 0))
    time_machine.move_to(appointment.start - timedelta(minutes=10))
    response = client_for(doctor.user).post(
        transition_url(appointment), {"status": "checked_in", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == DAY


def test_unknown_status_is_a_message_not_an_error(doctor, site, receptionist):
    appointment = book(receptionist, doctor, local(site, days_ahead(1), 9, 0))
    response = client_for(receptionist).post(
        transition_url(appointment), {"status": "cancelled"}, follow=True
    )
    assert response.status_code == 200
    assert "Choose one of the actions offered" in response.content.decode()


# --- the reception calendar ----------------------------------------------------------------------
def test_calendar_filters_by_site_and_practitioner_and_never_shows_the_reason(receptionist):
    north, south = make_site(), make_site()
    doctor_north = bookable_doctor(site=north)
    doctor_south = bookable_doctor(site=south)
    day = days_ahead(2)
    at_north = book(receptionist, doctor_north, local(north, day, 9, 0), reason="Chest pain N1")
    at_south = book(receptionist, doctor_south, local(south, day, 9, 0), reason="Rash S2")
    client = client_for(receptionist)

    everyone = client.get(f"{CALENDAR}?date={day.isoformat()}").content.decode()
    assert at_north.patient.family_name in everyone and at_south.patient.family_name in everyone
    assert doctor_north.display_name in everyone and doctor_south.display_name in everyone

    by_site = client.get(
        f"{CALENDAR}?date={day.isoformat()}&site={north.public_id}"
    ).content.decode()
    assert at_north.patient.family_name in by_site
    assert at_south.patient.family_name not in by_site

    by_practitioner = client.get(
        f"{CALENDAR}?date={day.isoformat()}&practitioner={doctor_south.public_id}"
    ).content.decode()
    assert at_south.patient.family_name in by_practitioner
    assert at_north.patient.family_name not in by_practitioner

    for page in (everyone, by_site, by_practitioner):
        assert "Chest pain" not in page and "Rash S2" not in page
        assert "Reason" not in page


def test_calendar_filters_by_status_and_shows_a_week(receptionist, doctor, site):
    day = days_ahead(3)
    kept = book(receptionist, doctor, local(site, day, 9, 0))
    later = book(receptionist, doctor, local(site, day + timedelta(days=3), 9, 0))
    dropped = book(receptionist, doctor, local(site, day, 10, 0))
    services.appointment_cancel(actor=receptionist, appointment=dropped, reason="Phoned")
    client = client_for(receptionist)

    booked = client.get(f"{CALENDAR}?date={day.isoformat()}&status=booked").content.decode()
    assert kept.patient.family_name in booked
    assert dropped.patient.family_name not in booked
    assert later.patient.family_name not in booked  # another day

    week = client.get(f"{CALENDAR}?date={day.isoformat()}&span=week").content.decode()
    for appointment in (kept, later, dropped):
        assert appointment.patient.family_name in week


def test_reception_gets_check_in_and_no_show_buttons_only(receptionist, doctor, time_machine):
    appointment = make_appointment(doctor)
    time_machine.move_to(appointment.start + timedelta(minutes=1))
    page = client_for(receptionist).get(f"{CALENDAR}?date={local_day(appointment)}")
    html = page.content.decode()
    assert _button("checked_in") in html and _button("no_show") in html
    assert _button("completed") not in html


def test_calendar_with_bad_filters_is_not_an_error(receptionist):
    response = client_for(receptionist).get(
        f"{CALENDAR}?date=2026-13-45&site=nope&practitioner=x&status=odd&span=year"
    )
    assert response.status_code == 200


# --- reassigning a day ---------------------------------------------------------------------------
@pytest.fixture
def day_to_move(doctor, site, receptionist):
    """Two booked appointments of `doctor` on one day, and a free colleague of the same
    specialty at the same site."""
    day = days_ahead(4)
    appointments = [
        book(receptionist, doctor, local(site, day, 9, 0)),
        book(receptionist, doctor, local(site, day, 10, 30)),
    ]
    colleague = bookable_doctor(site=site)
    Message.objects.all().delete()
    return day, appointments, colleague


def _form(doctor, day, **extra) -> dict:
    return {"practitioner": str(doctor.public_id), "date": day.isoformat(), **extra}


def test_reassign_previews_then_moves_the_day_to_a_colleague(doctor, day_to_move):
    day, appointments, colleague = day_to_move
    admin = make_user(Role.CLINIC_ADMIN)
    client = client_for(admin)

    preview = client.get(REASSIGN, _form(doctor, day, target=str(colleague.public_id)))
    html = preview.content.decode()
    assert "Can move" in html
    assert all(a.patient.family_name in html for a in appointments)
    assert f"Move 2 appointments to {colleague.display_name}" in html
    assert Appointment.objects.filter(practitioner=doctor).count() == 2  # nothing changed yet

    result = client.post(
        REASSIGN, _form(doctor, day, target=str(colleague.public_id), action="move")
    )
    assert result.status_code == 200
    html = result.content.decode()
    assert f"Moved to {colleague.display_name}" in html
    for appointment in appointments:
        appointment.refresh_from_db()
        assert appointment.practitioner == colleague
        assert appointment.status == Status.BOOKED
        assert Message.objects.filter(
            recipient=appointment.patient.user, kind="appointment.reassigned"
        ).exists()
        assert Event.objects.filter(
            name="appointment.reassigned",
            object_id=str(appointment.public_id),
            actor_id=admin.public_id,
        ).exists()


def test_reassign_leaves_in_place_what_the_colleague_cannot_take(
    doctor, site, receptionist, day_to_move
):
    day, appointments, colleague = day_to_move
    book(receptionist, colleague, appointments[0].start)  # the colleague is busy at 09:00
    client = client_for(receptionist)

    preview = client.get(REASSIGN, _form(doctor, day, target=str(colleague.public_id)))
    assert "has another appointment at that time" in preview.content.decode()
    assert "Move 1 appointment to" in preview.content.decode()

    result = client.post(
        REASSIGN, _form(doctor, day, target=str(colleague.public_id), action="move")
    ).content.decode()
    assert "Left in place" in result and "has another appointment at that time" in result
    appointments[0].refresh_from_db()
    appointments[1].refresh_from_db()
    assert appointments[0].practitioner == doctor
    assert appointments[1].practitioner == colleague


def test_reassign_cancels_the_day_with_a_reason(doctor, day_to_move, receptionist):
    day, appointments, _ = day_to_move
    client = client_for(receptionist)

    missing = client.post(REASSIGN, _form(doctor, day, action="cancel", cancel_reason=" "))
    assert missing.status_code == 200
    assert "Required when no practitioner is chosen" in missing.content.decode()
    assert not Appointment.objects.filter(status=Status.CANCELLED).exists()

    result = client.post(
        REASSIGN, _form(doctor, day, action="cancel", cancel_reason="Dr is unwell today")
    )
    assert "Cancelled" in result.content.decode()
    for appointment in appointments:
        appointment.refresh_from_db()
        assert appointment.status == Status.CANCELLED
        assert appointment.cancel_reason == "Dr is unwell today"
        message = Message.objects.get(recipient=appointment.patient.user)
        assert "Dr is unwell today" in message.title
        assert Event.objects.filter(
            name="appointment.cancelled", object_id=str(appointment.public_id)
        ).exists()


def test_reassign_refuses_a_practitioner_of_another_specialty(doctor, site, day_to_move):
    day, _, _ = day_to_move
    cardiologist = bookable_doctor(site=site, specialty_code="cardiology")
    client = client_for(make_user(Role.CLINIC_ADMIN))

    preview = client.get(REASSIGN, _form(doctor, day, target=str(cardiologist.public_id)))
    html = preview.content.decode()
    assert "do not share a specialty" in html
    # The list offered holds colleagues of the same specialty only.
    options = html[html.index('name="target"') :]
    options = options[: options.index("</select>")]
    assert str(cardiologist.public_id) not in options

    response = client.post(
        REASSIGN, _form(doctor, day, target=str(cardiologist.public_id), action="move")
    )
    assert response.status_code == 200
    assert "Choose a practitioner of the same specialty." in response.content.decode()
    assert 'id="id_target_error"' in response.content.decode()
    assert set(Appointment.objects.values_list("practitioner_id", flat=True)) == {doctor.pk}
    assert not Event.objects.filter(name="appointment.reassigned").exists()


def test_move_without_a_target_asks_for_one(doctor, day_to_move, receptionist):
    day, _, _ = day_to_move
    response = client_for(receptionist).post(REASSIGN, _form(doctor, day, action="move"))
    assert response.status_code == 200
    assert "Choose the practitioner to move the appointments to." in response.content.decode()


# --- malformed input -----------------------------------------------------------------------------
GARBAGE = {
    "date": "9999-12-31",
    "practitioner": "x",
    "target": "00000000-0000-0000-0000-000000000000",
    "site": "y",
    "specialty": "%00",
    "status": "cancelled",
    "span": "year",
    "action": "explode",
    "cancel_reason": "x" * 5000,
    "weekday": "9",
    "start_time": "25:99",
    "end_time": "",
    "slot_minutes": "-1",
    "mode": "teleport",
    "valid_from": "0001-01-01",
    "kind": "party",
    "start": "9999-12-31T23:59",
    "end": "0001-01-01T00:00",
    "feed": "z" * 64,
    "next": "javascript:alert(1)",
}


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.CLINIC_ADMIN])
def test_malformed_input_never_reaches_a_500(role, doctor, site, receptionist):
    from carehub.core.testing.contracts import make_actor

    actor = make_actor(role)
    appointment = book(receptionist, doctor, local(site, days_ahead(1), 9, 0))
    rule = doctor.availability_rules.first()
    client = client_for(actor)
    gets = [
        DAY,
        reverse("scheduling:week"),
        CALENDAR,
        REASSIGN,
        reverse("scheduling:availability"),
        reverse("scheduling:feeds"),
    ]
    for url in gets:
        for params in (GARBAGE, {"date": "0001-01-01"}, {"date": "2026-02-30"}):
            response = client.get(url, params)
            assert response.status_code in (200, 403, 404), (url, response.status_code)
    posts = [
        reverse("scheduling:transition", kwargs={"public_id": appointment.public_id}),
        REASSIGN,
        reverse("scheduling:rule_add"),
        reverse("scheduling:rule_add") + f"?practitioner={doctor.public_id}",
        reverse("scheduling:rule_edit", kwargs={"public_id": rule.public_id}),
        reverse("scheduling:rule_delete", kwargs={"public_id": rule.public_id}),
        reverse("scheduling:exception_add") + f"?practitioner={doctor.public_id}",
        reverse("scheduling:feeds") + f"?practitioner={doctor.public_id}",
    ]
    for url in posts:
        for data in (GARBAGE, {}, {**GARBAGE, "date": "2027-01-04", "action": "cancel"}):
            response = client.post(url, data)
            assert response.status_code in (200, 302, 403, 404), (url, response.status_code)

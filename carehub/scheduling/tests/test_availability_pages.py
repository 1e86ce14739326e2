"""Availability pages: weekly rules and dated exceptions, and the booked appointments a change
leaves outside the availability."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.testing.contracts import client_for
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import services
from carehub.scheduling.models import AvailabilityException, AvailabilityRule
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local, make_site

pytestmark = pytest.mark.django_db

PAGE = reverse("scheduling:availability")


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def site(doctor):
    return doctor.sites.first()


def rule_data(site, **overrides) -> dict:
    data = {
        "weekday": "0",
        "site": str(site.public_id),
        "start_time": "14:00",
        "end_time": "17:00",
        "slot_minutes": "20",
        "mode": "both",
        "valid_from": "",
        "valid_until": "",
    }
    data.update(overrides)
    return data


def test_adding_leave_over_a_booked_appointment_lists_it_as_a_conflict(doctor, site):
    patient = make_patient_user()
    day = days_ahead(6)
    appointment = services.appointment_book(
        actor=patient.user, practitioner=doctor, start=local(site, day, 10, 0), mode="video"
    )
    client = client_for(doctor.user)
    assert "outside the availability" not in client.get(PAGE).content.decode()

    response = client.post(
        reverse("scheduling:exception_add"),
        {
            "kind": "leave",
            "site": "",
            "start": f"{day.isoformat()}T00:00",
            "end": f"{(day + timedelta(days=1)).isoformat()}T00:00",
            "note": "Conference",
        },
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == PAGE
    assert "Leave added." in html
    assert "1 booked appointment now falls outside the availability" in html
    conflicts = html[html.index('id="conflicts-heading"') :]
    conflicts = conflicts[: conflicts.index("</section>")]
    assert patient.family_name in conflicts
    assert reverse("scheduling:reschedule", kwargs={"public_id": appointment.public_id}) in (
        conflicts
    )
    assert "Conference" in html
    # The leave was entered on the site's wall clock.
    leave = AvailabilityException.objects.get()
    assert leave.start == local(site, day, 0, 0)


def test_administrator_gets_a_reassign_link_for_the_conflicts_day(doctor, site):
    appointment = services.appointment_book(
        actor=make_patient_user().user,
        practitioner=doctor,
        start=local(site, days_ahead(5), 11, 0),
        mode="in_person",
    )
    admin = make_user(Role.CLINIC_ADMIN)
    for rule in AvailabilityRule.objects.filter(practitioner=doctor):
        services.rule_delete(actor=admin, rule=rule)
    html = client_for(admin).get(f"{PAGE}?practitioner={doctor.public_id}").content.decode()
    reassign = (
        f"{reverse('scheduling:reassign')}?practitioner={doctor.public_id}"
        f"&amp;date={days_ahead(5).isoformat()}"
    )
    assert reassign in html
    assert appointment.patient.family_name in html


def test_rule_with_end_before_start_shows_a_field_error(doctor, site):
    before = AvailabilityRule.objects.count()
    response = client_for(doctor.user).post(
        reverse("scheduling:rule_add"), rule_data(site, start_time="17:00", end_time="09:00")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="rule-end_time_error"' in html
    assert "The end must be after the start." in html
    assert AvailabilityRule.objects.count() == before


def test_overlapping_rule_is_refused_beside_its_field(doctor, site):
    response = client_for(doctor.user).post(
        reverse("scheduling:rule_add"), rule_data(site, start_time="11:00", end_time="13:00")
    )
    assert 'id="rule-start_time_error"' in response.content.decode()


def test_doctor_adds_edits_and_deletes_a_weekly_rule(doctor, site):
    client = client_for(doctor.user)
    response = client.post(reverse("scheduling:rule_add"), rule_data(site, weekday="2"))
    assert response.status_code == 302 and response["Location"] == PAGE
    rule = AvailabilityRule.objects.get(practitioner=doctor, start_time=time(14, 0))
    assert rule.weekday == 2

    edit_url = reverse("scheduling:rule_edit", kwargs={"public_id": rule.public_id})
    assert 'value="14:00"' in client.get(edit_url).content.decode()
    client.post(edit_url, rule_data(site, weekday="2", end_time="18:00", mode="video"))
    rule.refresh_from_db()
    assert rule.end_time == time(18, 0) and rule.mode == "video"

    client.post(reverse("scheduling:rule_delete", kwargs={"public_id": rule.public_id}))
    assert not AvailabilityRule.objects.filter(pk=rule.pk).exists()


def test_administrator_manages_a_practitioners_availability(doctor, site):
    admin = make_user(Role.CLINIC_ADMIN)
    client = client_for(admin)
    assert "Choose a practitioner" in client.get(PAGE).content.decode()
    page = client.get(f"{PAGE}?practitioner={doctor.public_id}").content.decode()
    assert f"Availability of {doctor.display_name}" in page
    assert "09:00\N{EN DASH}12:00" in page

    response = client.post(
        reverse("scheduling:rule_add") + f"?practitioner={doctor.public_id}",
        rule_data(site, weekday="6", start_time="13:00", end_time="15:00"),
    )
    assert response["Location"] == f"{PAGE}?practitioner={doctor.public_id}"
    assert AvailabilityRule.objects.filter(practitioner=doctor, start_time=time(13, 0)).exists()
    # Without a practitioner there is nothing to add to.
    missing = client.post(reverse("scheduling:rule_add"), rule_data(site))
    assert missing.status_code == 404


def test_exception_times_are_read_on_the_sites_wall_clock():
    new_york = make_site("America/New_York")
    doctor = bookable_doctor(site=new_york)
    day = days_ahead(20)
    response = client_for(doctor.user).post(
        reverse("scheduling:exception_add"),
        {
            "kind": "extra",
            "site": str(new_york.public_id),
            "start": f"{day.isoformat()}T18:00",
            "end": f"{day.isoformat()}T20:00",
            "slot_minutes": "15",
            "mode": "video",
        },
    )
    assert response.status_code == 302
    extra = AvailabilityException.objects.get(kind="extra")
    assert extra.start == local(new_york, day, 18, 0)
    assert extra.start.astimezone(UTC).hour in (22, 23)  # EDT or EST
    html = client_for(doctor.user).get(PAGE).content.decode()
    assert "18:00 E" in html  # shown back on the site's clock, with its zone


def test_extra_session_needs_a_site_and_slot_length(doctor):
    day = days_ahead(9).isoformat()
    response = client_for(doctor.user).post(
        reverse("scheduling:exception_add"),
        {"kind": "extra", "site": "", "start": f"{day}T14:00", "end": f"{day}T16:00"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="exception-site_error"' in html
    assert 'id="exception-slot_minutes_error"' in html
    assert not AvailabilityException.objects.exists()


def test_malformed_exception_times_are_form_errors(doctor):
    response = client_for(doctor.user).post(
        reverse("scheduling:exception_add"),
        {"kind": "leave", "start": "tomorrow", "end": "2026-02-30T10:00"},
    )
    assert response.status_code == 200
    assert 'id="exception-start_error"' in response.content.decode()
    assert 'id="exception-end_error"' in response.content.decode()


def test_deleting_an_exception_restores_the_slots(doctor, site):
    start = datetime.combine(days_ahead(3), time.min, tzinfo=UTC)
    leave, _ = services.exception_add(
        actor=doctor.user,
        practitioner=doctor,
        kind="holiday",
        start=start,
        end=start + timedelta(days=1),
    )
    client = client_for(doctor.user)
    assert "Holiday" in client.get(PAGE).content.decode()
    response = client.post(
        reverse("scheduling:exception_delete", kwargs={"public_id": leave.public_id}),
        follow=True,
    )
    assert "Holiday deleted." in response.content.decode()
    assert not AvailabilityException.objects.exists()

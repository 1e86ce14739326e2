"""The scheduling REST API (/api/v1/practitioners/, /api/v1/appointments/): every endpoint
against the shared access contract, then behaviour beyond it."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord
from carehub.core.testing.contracts import ApiContract, client_for
from carehub.patients.tests.factories import PatientFactory, make_patient_user, relate
from carehub.patients.tests.helpers import own
from carehub.scheduling import services
from carehub.scheduling.choices import Status
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local, make_rule

ADMIN = (Role.RECEPTIONIST, Role.CLINIC_ADMIN)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
STAFF = ADMIN + CLINICIANS
SEE = (Role.PATIENT, *STAFF)


def make_appointment(*, doctor=None, patient=None, start=None, status=Status.BOOKED):
    """An appointment written directly (the services are tested elsewhere)."""
    doctor = doctor or bookable_doctor()
    site = doctor.sites.first()
    start = start or local(site, days_ahead(3), 9, 0)
    return Appointment.objects.create(
        practitioner=doctor,
        patient=patient or PatientFactory(),
        site=site,
        start=start,
        end=start + timedelta(minutes=30),
        mode="in_person",
        status=status,
        reason="Chest pain when climbing stairs",
    )


def take_over(actor, appointment) -> None:
    """Make a clinician the practitioner of `appointment`, with the same weekly hours."""
    practitioner = actor.practitioner
    practitioner.sites.add(appointment.site)
    make_rule(practitioner, site=appointment.site)
    Appointment.objects.filter(pk=appointment.pk).update(practitioner=practitioner)
    appointment.refresh_from_db()


# --- the access contract --------------------------------------------------------------------------
class _AppointmentTarget:
    """The URL names an appointment; the patient reaches their own, clinicians the ones of
    patients in their care (view) or the ones they hold (change), reception and admins all."""

    change = False

    def make_target(self):
        return make_appointment()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def target_patient_id(self, target):
        return target.patient.public_id

    def grant(self, actor, target):
        if actor.role == Role.PATIENT:
            own(actor, target.patient)
        elif actor.role in CLINICIAN_ROLES:
            if self.change:
                take_over(actor, target)
            else:
                relate(actor.practitioner, target.patient)


class TestPractitionerSearch(ApiContract):
    url_name = "api-practitioners"
    allowed_roles = SEE

    def make_target(self):
        return bookable_doctor(specialty_code="cardiology")

    def data(self, target):
        return {"specialty": "cardiology"}


class TestSlotList(ApiContract):
    url_name = "api-practitioner-slots"
    allowed_roles = SEE

    def make_target(self):
        return bookable_doctor()

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def data(self, target):
        return {"from": days_ahead(1).isoformat(), "to": days_ahead(56).isoformat()}


class TestAppointmentList(_AppointmentTarget, ApiContract):
    url_name = "api-appointments"
    allowed_roles = SEE
    expected_access = ("appointments",)

    def url_kwargs(self, target):
        return {}


class TestAppointmentBook(ApiContract):
    url_name = "api-appointments"
    method = "post"
    allowed_roles = SEE
    relationship_roles = CLINICIANS  # a clinician books for patients in their care only
    expected_status = 201
    expected_events = ("appointment.booked",)
    # Booking: the slot check (rules, exceptions, appointments, offers), the patient's other
    # appointments, the insert with its change row, the care relationship with its event, the
    # booking event and the notification; each audit append is savepoint + read + insert; a
    # first booking with a doctor creates the care relationship inside a savepoint (two first
    # bookings at once must share it, not fail).
    max_queries = 46

    def make_target(self):
        return {"doctor": bookable_doctor(), "patient": PatientFactory()}

    def target_patient_id(self, target):
        return target["patient"].public_id

    def grant(self, actor, target):
        if actor.role == Role.PATIENT:
            own(actor, target["patient"])
        elif actor.role in CLINICIAN_ROLES:
            relate(actor.practitioner, target["patient"])

    def data(self, target):
        site = target["doctor"].sites.first()
        return {
            "practitioner": str(target["doctor"].public_id),
            "start": local(site, days_ahead(3), 10, 0).isoformat(),
            "mode": "video",
            "reason": "Palpitations",
            "patient": str(target["patient"].public_id),
        }


class TestAppointmentDetail(_AppointmentTarget, ApiContract):
    url_name = "api-appointment"
    allowed_roles = SEE
    relationship_roles = (Role.PATIENT, *CLINICIANS)
    expected_access = ("appointments",)


class TestAppointmentReschedule(_AppointmentTarget, ApiContract):
    url_name = "api-appointment-reschedule"
    method = "post"
    change = True
    allowed_roles = SEE
    relationship_roles = (Role.PATIENT, *CLINICIANS)
    expected_access = ("appointments",)
    expected_events = ("appointment.rescheduled",)
    max_queries = 40

    def data(self, target):
        return {"start": local(target.site, days_ahead(4), 11, 0).isoformat()}


class TestAppointmentCancel(_AppointmentTarget, ApiContract):
    url_name = "api-appointment-cancel"
    method = "post"
    change = True
    allowed_roles = SEE
    relationship_roles = (Role.PATIENT, *CLINICIANS)
    expected_access = ("appointments",)
    expected_events = ("appointment.cancelled",)
    max_queries = 40

    def data(self, target):
        return {"reason": "Feeling better"}


class TestAppointmentStatus(_AppointmentTarget, ApiContract):
    url_name = "api-appointment-status"
    method = "post"
    change = True
    allowed_roles = STAFF
    relationship_roles = CLINICIANS
    expected_access = ("appointments",)
    expected_events = ("appointment.checked_in",)

    def make_target(self):
        # Check-in opens on the day: an appointment an hour from now.
        start = timezone.now().replace(second=0, microsecond=0) + timedelta(hours=1)
        return make_appointment(start=start)

    def data(self, target):
        return {"status": "checked_in"}


# --- behaviour ------------------------------------------------------------------------------------
pytestmark = pytest.mark.django_db


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return response.json()


def slots_url(doctor) -> str:
    return reverse("api-practitioner-slots", kwargs={"public_id": doctor.public_id})


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def site(doctor):
    return doctor.sites.first()


@pytest.fixture
def patient():
    return make_patient_user()


@pytest.fixture
def api(patient):
    return client_for(patient.user, api=True)


def book(api, doctor, start, mode="in_person", **extra):
    return api.post(
        reverse("api-appointments"),
        {"practitioner": str(doctor.public_id), "start": start, "mode": mode, **extra},
        format="json",
    )


# slots
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "from"),
        ({"from": "2027-01-01"}, "to"),
        ({"from": "2027-01-10", "to": "2027-01-09"}, "to"),
        ({"from": "2027-01-01", "to": "2027-03-04"}, "to"),  # 63 days
        ({"from": "yesterday", "to": "2027-01-09"}, "from"),
        ({"from": "2027-01-01", "to": "2027-01-09", "mode": "fax"}, "mode"),
    ],
)
def test_slot_query_is_validated(api, doctor, query, field):
    body = is_problem(api.get(slots_url(doctor), query), 400)
    assert field in body["errors"]


def test_slots_of_62_days_are_allowed(api, doctor):
    first = days_ahead(1)
    response = api.get(
        slots_url(doctor), {"from": first, "to": first + timedelta(days=61), "mode": "video"}
    )
    assert response.status_code == 200
    # every day has 6 slots, except what the booking horizon (90 days) cuts
    assert len(response.json()) == 62 * 6


def test_slots_of_an_unknown_practitioner_are_404(api):
    response = api.get(
        reverse(
            "api-practitioner-slots", kwargs={"public_id": "3f1c1d2e-0000-4000-8000-000000000000"}
        ),
        {"from": days_ahead(1), "to": days_ahead(2)},
    )
    is_problem(response, 404)


def test_slots_list_each_mode_and_leave_out_booked_and_past_times(api, doctor, site):
    day = days_ahead(2)
    other = make_patient_user()
    services.appointment_book(
        actor=other.user, practitioner=doctor, start=local(site, day, 9, 30), mode="video"
    )
    rows = api.get(slots_url(doctor), {"from": day, "to": day}).json()
    starts = [r["start"] for r in rows]
    assert local(site, day, 9, 30).isoformat() not in starts
    assert starts.count(local(site, day, 9, 0).isoformat()) == 2  # in person and video
    assert {r["mode"] for r in rows} == {"in_person", "video"}
    assert {r["site"] for r in rows} == {str(site.public_id)}
    assert api.get(slots_url(doctor), {"from": days_ahead(-3), "to": days_ahead(-1)}).json() == []


def test_staff_see_slots_inside_the_minimum_notice_patients_do_not(
    patient, doctor, site, time_machine
):
    site.booking_min_notice_minutes = 24 * 60
    site.save()
    day = days_ahead(1)
    time_machine.move_to(local(site, day, 8, 0))
    query = {"from": day, "to": day, "mode": "video"}
    api = client_for(patient.user, api=True)  # tokens are issued at the new time
    assert api.get(slots_url(doctor), query).json() == []
    reception = client_for(make_user(Role.RECEPTIONIST), api=True)
    assert len(reception.get(slots_url(doctor), query).json()) == 6


def test_practitioner_search_filters_and_gives_the_next_slot(api, doctor, site):
    far = bookable_doctor(specialty_code="cardiology", site=site)
    rows = api.get(reverse("api-practitioners"), {"specialty": "cardiology"}).json()
    assert [r["id"] for r in rows] == [str(far.public_id)]
    slot = rows[0]["next_slot"]
    assert datetime.fromisoformat(slot["start"]) > timezone.now()
    assert slot["site"] == str(site.public_id)
    assert is_problem(api.get(reverse("api-practitioners"), {"mode": "fax"}), 400)
    assert is_problem(api.get(reverse("api-practitioners"), {"site": "nope"}), 400)


# booking
def test_book_returns_the_appointment_in_the_sites_time(api, doctor, site, patient):
    start = local(site, days_ahead(3), 9, 0)
    response = book(api, doctor, start.isoformat(), reason="Cough")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["start"] == start.isoformat()
    assert body["patient"] == str(patient.public_id)
    assert body["practitioner"] == str(doctor.public_id)
    assert body["status"] == "booked"
    assert body["reason"] == "Cough"


def test_reception_books_for_a_patient_and_does_not_see_the_reason(doctor, site, patient):
    reception = client_for(make_user(Role.RECEPTIONIST), api=True)
    start = local(site, days_ahead(3), 9, 0).isoformat()
    body = is_problem(book(reception, doctor, start), 400)
    assert "patient" in body["errors"]
    response = book(reception, doctor, start, reason="Private", patient=str(patient.public_id))
    assert response.status_code == 201
    assert "reason" not in response.json()


def test_taken_slot_is_409_problem_with_alternatives(api, doctor, site):
    start = local(site, days_ahead(3), 9, 0).isoformat()
    book(client_for(make_patient_user().user, api=True), doctor, start)
    body = is_problem(book(api, doctor, start), 409)
    assert body["code"] == "taken"
    assert body["detail"]
    assert len(body["alternatives"]) == services.ALTERNATIVES
    for alternative in body["alternatives"]:
        assert set(alternative) == {"start", "end", "mode", "practitioner"}
        assert alternative["start"] != start
        assert alternative["practitioner"] == str(doctor.public_id)
    # an alternative can be booked as it is given
    assert book(api, doctor, body["alternatives"][0]["start"]).status_code == 201


def test_time_without_an_offset_is_refused(api, doctor, site):
    """A naive time would be read as UTC whatever the site's zone: refused, not guessed."""
    naive = local(site, days_ahead(3), 9, 0).replace(tzinfo=None).isoformat()
    body = is_problem(book(api, doctor, naive), 400)
    assert "start" in body["errors"]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "fax"}, "mode"),
        ({"practitioner": "not-a-uuid"}, "practitioner"),
        ({"start": "tomorrow"}, "start"),
        ({"reason": "x" * 1001}, "reason"),
    ],
)
def test_book_validates_its_body(api, doctor, site, body, field):
    data = {
        "practitioner": str(doctor.public_id),
        "start": local(site, days_ahead(3), 9, 0).isoformat(),
        "mode": "video",
        **body,
    }
    response = api.post(reverse("api-appointments"), data, format="json")
    assert field in is_problem(response, 400)["errors"]


def test_patient_cannot_book_for_someone_else(api, doctor, site):
    other = make_patient_user()
    response = book(
        api,
        doctor,
        local(site, days_ahead(3), 9, 0).isoformat(),
        patient=str(other.public_id),
    )
    is_problem(response, 403)
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (lambda site: local(site, days_ahead(-1), 9, 0), "past"),
        (lambda site: local(site, days_ahead(3), 9, 10), "outside_availability"),
        (lambda site: local(site, days_ahead(120), 9, 0), "beyond_horizon"),
    ],
)
def test_refusals_are_409_with_a_code(api, doctor, site, when, code):
    body = is_problem(book(api, doctor, when(site).isoformat()), 409)
    assert body["code"] == code


def test_patient_overlap_is_409(api, patient, site):
    first, second = bookable_doctor(site=site), bookable_doctor(site=site)
    start = local(site, days_ahead(3), 9, 0).isoformat()
    assert book(api, first, start).status_code == 201
    assert is_problem(book(api, second, start), 409)["code"] == "patient_overlap"


# listing
def test_patient_lists_only_their_own_appointments(api, doctor, site, patient):
    mine = make_appointment(doctor=doctor, patient=patient)
    make_appointment(doctor=doctor, start=local(site, days_ahead(3), 10, 0))
    rows = api.get(reverse("api-appointments")).json()
    assert [r["id"] for r in rows] == [str(mine.public_id)]


def test_list_filters(doctor, site):
    reception = client_for(make_user(Role.RECEPTIONIST), api=True)
    early = make_appointment(doctor=doctor, start=local(site, days_ahead(3), 9, 0))
    late = make_appointment(doctor=doctor, start=local(site, days_ahead(10), 9, 0))
    cancelled = make_appointment(
        doctor=doctor, start=local(site, days_ahead(3), 10, 0), status=Status.CANCELLED
    )
    other = make_appointment(start=local(site, days_ahead(3), 9, 0))
    url = reverse("api-appointments")

    def ids(query):
        response = reception.get(url, query)
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()}

    everything = {str(a.public_id) for a in (early, late, cancelled, other)}
    assert ids({}) == everything
    assert ids({"status": "cancelled"}) == {str(cancelled.public_id)}
    assert ids({"status": ["booked", "cancelled"]}) == everything
    assert ids({"to": days_ahead(5)}) == everything - {str(late.public_id)}
    assert ids({"from": days_ahead(5)}) == {str(late.public_id)}
    assert ids({"practitioner": str(doctor.public_id)}) == everything - {str(other.public_id)}
    assert "status" in is_problem(reception.get(url, {"status": "lost"}), 400)["errors"]
    assert "from" in is_problem(reception.get(url, {"from": "soon"}), 400)["errors"]


def test_listing_logs_one_access_row_per_patient_shown(doctor, site):
    reception = make_user(Role.RECEPTIONIST)
    patient = PatientFactory()
    make_appointment(doctor=doctor, patient=patient, start=local(site, days_ahead(3), 9, 0))
    make_appointment(doctor=doctor, patient=patient, start=local(site, days_ahead(4), 9, 0))
    client_for(reception, api=True).get(reverse("api-appointments"))
    rows = AccessRecord.objects.filter(patient_id=patient.public_id, actor_id=reception.public_id)
    assert [r.category for r in rows] == ["appointments"]


# changes
def detail_url(name: str, appointment) -> str:
    return reverse(name, kwargs={"public_id": appointment.public_id})


def test_reschedule_and_cancel(api, doctor, site):
    created = book(api, doctor, local(site, days_ahead(3), 9, 0).isoformat()).json()
    appointment = Appointment.objects.get(public_id=created["id"])
    new_start = local(site, days_ahead(4), 11, 30).isoformat()
    response = api.post(
        detail_url("api-appointment-reschedule", appointment),
        {"start": new_start, "mode": "video"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["start"] == new_start
    assert response.json()["mode"] == "video"

    body = is_problem(
        api.post(detail_url("api-appointment-cancel", appointment), {}, format="json"), 400
    )
    assert "reason" in body["errors"]
    response = api.post(
        detail_url("api-appointment-cancel", appointment), {"reason": "Better"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancel_reason"] == "Better"
    again = api.post(
        detail_url("api-appointment-cancel", appointment), {"reason": "Again"}, format="json"
    )
    assert is_problem(again, 409)["code"] == "status"


def test_reschedule_onto_a_taken_slot_is_409_and_changes_nothing(api, doctor, site):
    mine = Appointment.objects.get(
        public_id=book(api, doctor, local(site, days_ahead(3), 9, 0).isoformat()).json()["id"]
    )
    taken = local(site, days_ahead(3), 10, 0)
    book(client_for(make_patient_user().user, api=True), doctor, taken.isoformat())
    response = api.post(
        detail_url("api-appointment-reschedule", mine), {"start": taken.isoformat()}, format="json"
    )
    assert is_problem(response, 409)["code"] == "taken"
    mine.refresh_from_db()
    assert mine.start == local(site, days_ahead(3), 9, 0)


def test_patient_cannot_change_online_after_the_cutoff(api, doctor, site, patient):
    site.cancellation_cutoff_minutes = 7 * 24 * 60
    site.save()
    appointment = make_appointment(doctor=doctor, patient=patient)
    response = api.post(
        detail_url("api-appointment-cancel", appointment), {"reason": "x"}, format="json"
    )
    assert is_problem(response, 409)["code"] == "cutoff"


def test_status_changes_follow_the_workflow(doctor, site, time_machine):
    appointment = make_appointment(doctor=doctor)
    time_machine.move_to(appointment.start - timedelta(minutes=5))
    staff = client_for(doctor.user, api=True)
    url = detail_url("api-appointment-status", appointment)
    assert is_problem(staff.post(url, {"status": "completed"}, format="json"), 409)["code"] == (
        "status"
    )
    for status in ("checked_in", "in_progress", "completed"):
        response = staff.post(url, {"status": status}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
    assert (
        "status"
        in is_problem(staff.post(url, {"status": "cancelled"}, format="json"), 400)["errors"]
    )


def test_no_show_only_once_started(doctor, site, time_machine):
    appointment = make_appointment(doctor=doctor)
    reception = make_user(Role.RECEPTIONIST)
    url = detail_url("api-appointment-status", appointment)
    time_machine.move_to(appointment.start - timedelta(hours=1))
    response = client_for(reception, api=True).post(url, {"status": "no_show"}, format="json")
    assert is_problem(response, 409)["code"] == "too_early"
    time_machine.move_to(appointment.start + timedelta(minutes=20))
    response = client_for(reception, api=True).post(url, {"status": "no_show"}, format="json")
    assert response.json()["status"] == "no_show"


def test_schema_documents_every_scheduling_operation():
    response = client_for(make_user(Role.RECEPTIONIST)).get(reverse("schema"), {"format": "json"})
    assert response.status_code == 200
    operations = {
        op["operationId"]
        for path in response.json()["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert {
        "practitioners_search",
        "practitioners_slots",
        "appointments_list",
        "appointments_book",
        "appointments_get",
        "appointments_reschedule",
        "appointments_cancel",
        "appointments_status",
    } <= operations


def test_rule_hours_in_the_response_are_local(api, site):
    """A New York doctor's 09:00 is 09:00-05:00 in the response, whatever the server's zone."""
    from carehub.directory.tests.factories import make_practitioner
    from carehub.scheduling.tests.factories import make_site

    ny = make_site("America/New_York")
    doctor = make_practitioner(site=ny)
    make_rule(doctor, site=ny, start=time(9), end=time(10))
    day = days_ahead(10)
    rows = api.get(slots_url(doctor), {"from": day, "to": day, "mode": "video"}).json()
    assert rows[0]["start"].startswith(f"{day.isoformat()}T09:00:00-0")

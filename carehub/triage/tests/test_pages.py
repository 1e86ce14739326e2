"""The symptom checker pages through the test client: starting a check, one question at a time,
going back, the result with its advice and booking hand-off, the emergency result, who may see a
check, the questionnaire attached to the booked appointment, and the usage page.

The knowledge base and the engine change often, so apart from the unambiguous chest-pain
emergency these tests check the shape of the pages, not which questions or causes come up."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord
from carehub.directory.models import Specialty
from carehub.directory.tests.factories import SiteFactory
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import bookable_doctor, make_site
from carehub.triage import services
from carehub.triage.models import TriageSession

pytestmark = pytest.mark.django_db

START = "/symptoms/"
SORE_THROAT = "sore throat and a fever since yesterday"
CHEST_PAIN = "crushing chest pain spreading to my left arm and I'm sweating"
DISCLAIMER = "This is not a diagnosis."
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CHECK_URL = re.compile(rf"^/symptoms/({UUID})/$")
BOOK_LINK = re.compile(r'href="(/appointments/book/[^"]+)"')
CONFIRM_LINK = re.compile(r'href="(/appointments/book/confirm/\?[^"]+)"')
MAX_QUESTIONS = 30  # far above the knowledge base's limit: a loop that never ends is a failure


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def check_url(check: TriageSession, action: str = "") -> str:
    return f"/symptoms/{check.public_id}/" + (f"{action}/" if action else "")


def start(client: Client, text: str = SORE_THROAT, age=30, sex="female", **extra):
    """Start a check through the form; returns the redirect response and the check."""
    response = client.post(START, {"age": age, "sex": sex, "text": text, **extra})
    assert response.status_code == 302, response.content.decode()[:2000]
    match = CHECK_URL.match(response["Location"])
    assert match, response["Location"]
    return response, TriageSession.objects.get(public_id=match.group(1))


def current_question(client: Client, check: TriageSession) -> str:
    page = client.get(check_url(check)).content.decode()
    found = re.search(r'name="finding" value="([^"]+)"', page)
    assert found, "no question on the page"
    return found.group(1)


def answer(client: Client, check: TriageSession, reply: str = "unknown"):
    finding = current_question(client, check)
    response = client.post(check_url(check, "answer"), {"finding": finding, "answer": reply})
    assert response.status_code == 302 and response["Location"] == check_url(check)
    return response


def finish(client: Client, check: TriageSession, reply: str = "unknown") -> TriageSession:
    """Answer every question with `reply` until the result; returns the finished check."""
    for _ in range(MAX_QUESTIONS):
        check.refresh_from_db()
        if check.status == "done":
            return check
        answer(client, check, reply)
    raise AssertionError(f"no result after {MAX_QUESTIONS} answers")


def finished_check(client: Client, **kwargs) -> TriageSession:
    return finish(client, start(client, **kwargs)[1])


def set_result_specialty(check: TriageSession, specialty: str) -> None:
    """Pin the result's specialty, so a test of the booking hand-off does not depend on what
    the knowledge base suggests today."""
    result = check.result_data or {}
    result["specialty"] = specialty
    check.result = json.dumps(result)
    check.specialty = specialty
    check.save(update_fields=["result", "specialty"])


def hidden_fields(page: str) -> dict[str, str]:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page)
    }


def book_from_result(client: Client, check: TriageSession, *, reason="From the checker"):
    """Follow the result's first booking link, take the first free time and confirm, as the
    scheduling pages do it. Returns the confirm response."""
    result = client.get(check_url(check)).content.decode()
    links = [html.unescape(u) for u in BOOK_LINK.findall(result)]
    assert links, "no booking link on the result"
    step2 = client.get(links[0])
    assert step2.status_code == 200
    confirm = [html.unescape(u) for u in CONFIRM_LINK.findall(step2.content.decode())]
    assert confirm, "no free time on the booking page"
    assert f"triage={check.public_id}" in confirm[0]
    page = client.get(confirm[0]).content.decode()
    form = hidden_fields(page)
    assert form.get("triage") == str(check.public_id)
    form.update(mode="in_person", reason=reason)
    return client.post(reverse("scheduling:book_confirm"), form)


# --- an anonymous visitor ------------------------------------------------------------------------
def test_the_start_page_shows_the_form_and_says_it_is_not_a_diagnosis():
    response = Client().get(START)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Check your symptoms" in page
    assert DISCLAIMER in page
    for name in ("age", "sex", "text", "findings"):
        assert f'name="{name}"' in page
    assert response["Cache-Control"] and "no-cache" in response["Cache-Control"]


def test_starting_with_nothing_to_go_on_is_a_form_error():
    client = Client()
    response = client.post(START, {"age": 30, "sex": "female", "text": "  "})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Describe what you feel, or pick at least one symptom" in page
    assert 'role="alert"' in page
    assert not TriageSession.objects.exists()
    # Missing age and sex: the fields say so, and nothing is started either.
    response = client.post(START, {"text": SORE_THROAT})
    assert response.status_code == 400
    assert response.content.decode().count('class="errorlist"') >= 2
    assert not TriageSession.objects.exists()


def test_a_check_asks_one_question_at_a_time_goes_back_and_ends_with_a_result():
    client = Client()
    response, check = start(client)
    assert check.patient is None and check.status == "in_progress"
    assert check.questions_asked == 0

    # One question, three answers, and why it is asked.
    page = client.get(response["Location"]).content.decode()
    assert page.count('name="finding"') == 1
    for label in (">Yes<", ">No<", ">Not sure<"):
        assert label in page
    assert "Why we ask" in page
    assert "Back to the previous question" not in page  # nothing to go back to yet
    first = current_question(client, check)

    # Answering moves on to the next question.
    answer(client, check, "no")
    check.refresh_from_db()
    if check.status == "in_progress":
        assert check.questions_asked == 1
        second = current_question(client, check)
        assert second != first
        page = client.get(check_url(check)).content.decode()
        assert "Question 2" in page and "Back to the previous question" in page

        # Back undoes the last answer: the first question again.
        response = client.post(check_url(check, "back"))
        assert response.status_code == 302 and response["Location"] == check_url(check)
        check.refresh_from_db()
        assert check.questions_asked == 0
        assert current_question(client, check) == first
        # Nothing left to undo: back to the start page, never an error.
        assert client.post(check_url(check, "back"))["Location"] == START

    # Answering until the end: the result.
    check = finish(client, check)
    assert check.questions_asked <= MAX_QUESTIONS
    page = client.get(check_url(check)).content.decode()
    result = check.result_data
    assert result and result["triage"] in ("emergency", "urgent", "routine", "self_care")
    assert check.get_triage_display() in page
    assert html.escape(result["explanation"]) in page
    assert "Why we say this" in page
    assert "Possible causes" in page
    assert html.escape(result["conditions"][0]["name"]) in page
    assert DISCLAIMER in page
    assert 'name="finding"' not in page


def test_a_stale_answer_is_ignored_and_bad_answers_never_fail():
    client = Client()
    _, check = start(client)
    url = check_url(check, "answer")
    question = current_question(client, check)
    # Not the question being asked, an unknown finding, a bad answer: the page again.
    for data in (
        {"finding": "chest_pain" if question != "chest_pain" else "cough", "answer": "yes"},
        {"finding": "no_such_finding", "answer": "yes"},
        {"finding": question, "answer": "maybe"},
        {},
    ):
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"] == check_url(check)
    check.refresh_from_db()
    assert check.questions_asked == 0 and check.question == question


def test_a_check_is_only_seen_by_the_browser_that_started_it():
    owner = Client()
    _, check = start(owner)
    finding = current_question(owner, check)
    stranger = Client()
    assert stranger.get(check_url(check)).status_code == 404
    response = stranger.post(check_url(check, "answer"), {"finding": finding, "answer": "yes"})
    assert response.status_code == 404
    assert stranger.post(check_url(check, "back")).status_code == 404
    check.refresh_from_db()
    assert check.questions_asked == 0
    # A signed-in stranger is a stranger too.
    assert signed_in(make_patient_user().user).get(check_url(check)).status_code == 404
    # An id that does not exist.
    assert owner.get("/symptoms/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_a_patients_check_is_theirs_alone():
    patient = make_patient_user()
    client = signed_in(patient.user)
    _, check = start(client)
    assert check.patient == patient
    # Another patient (or the same browser signed out) cannot open or continue it.
    other = signed_in(make_patient_user().user)
    assert other.get(check_url(check)).status_code == 404
    client.logout()
    assert client.get(check_url(check)).status_code == 404


def test_a_signed_in_patients_age_and_sex_are_filled_in():
    patient = make_patient_user(sex="male")
    page = signed_in(patient.user).get(START).content.decode()
    age = re.search(r'name="age" value="([^"]*)"', page)
    assert age, "the age is not filled in"
    assert re.fullmatch(r"\d+", age.group(1)), f"age shown as {age.group(1)!r}"
    assert re.search(r'value="male"[^>]*checked', page)


# --- the emergency result ------------------------------------------------------------------------
def test_crushing_chest_pain_says_call_the_emergency_number_first_and_offers_no_booking():
    SiteFactory.create(name="Alder Clinic", emergency_phone="112")
    bookable_doctor(site=make_site(name="Birch Clinic"), specialty_code="cardiology")
    client = Client()
    check = finished_check(client, text=CHEST_PAIN, age=64, sex="male")
    assert check.triage == "emergency"
    assert check.questions_asked == 0  # no questions when the answer is this clear

    page = client.get(check_url(check)).content.decode()
    banner = page.find("Call 112 now")
    headline = page.find("<h1>")
    assert banner != -1, "no call-now banner"
    assert banner < headline, "the call-now banner must come before the headline"
    assert 'href="tel:112"' in page
    assert "Get emergency help now" in page
    assert "/appointments/book/" not in page
    assert "Book a" not in page
    assert DISCLAIMER in page


def test_a_signed_in_patient_is_told_the_emergency_number_of_their_own_site():
    SiteFactory.create(name="Alder Clinic", emergency_phone="112")
    patient = make_patient_user(site=SiteFactory.create(name="Zeta Clinic", emergency_phone="911"))
    client = signed_in(patient.user)
    check = finished_check(client, text=CHEST_PAIN, age=64, sex="male")
    page = client.get(check_url(check)).content.decode()
    assert "Call 911 now" in page and "Call 112 now" not in page


# --- booking from the result ---------------------------------------------------------------------
def test_a_result_offers_in_person_and_video_booking_for_its_specialty():
    client = Client()
    check = finished_check(client)
    assert check.triage != "emergency"
    code = check.result_data["specialty"]
    doctor = bookable_doctor(specialty_code=code)
    label = doctor.specialties.get(code=code).label

    page = client.get(check_url(check)).content.decode()
    assert f"Book a {label} appointment" in page
    links = [html.unescape(u) for u in BOOK_LINK.findall(page)]
    assert links == [
        f"/appointments/book/{code}/?mode=in_person&triage={check.public_id}",
        f"/appointments/book/{code}/?mode=video&triage={check.public_id}",
    ]
    assert "does not take online bookings here" not in page
    # An anonymous visitor is told they will sign in first; the link takes them there.
    assert "asked to sign in or register first" in page
    response = client.get(links[0])
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_specialty_nobody_books_online_falls_back_to_general_practice():
    client = Client()
    check = finished_check(client)
    set_result_specialty(check, "dermatology")
    bookable_doctor(specialty_code="general_practice")
    label = Specialty.objects.get(code="general_practice").label

    page = client.get(check_url(check)).content.decode()
    assert f"Book a {html.escape(label)} appointment" in page
    assert "We suggest Dermatology (skin); it does not take online bookings here" in page
    links = [html.unescape(u) for u in BOOK_LINK.findall(page)]
    assert links and all(u.startswith("/appointments/book/general_practice/?") for u in links)


def test_with_no_bookable_doctor_at_all_the_result_says_to_call():
    client = Client()
    check = finished_check(client)
    set_result_specialty(check, "dermatology")
    page = client.get(check_url(check)).content.decode()
    assert "No doctor takes online bookings at the moment" in page
    assert "/appointments/book/" not in page
    assert "Book a  appointment" not in page  # never a heading with the specialty missing
    assert "We suggest Dermatology (skin)" in page


def test_a_signed_in_patients_check_becomes_the_questionnaire_of_the_booking():
    patient = make_patient_user()
    client = signed_in(patient.user)
    check = finished_check(client)
    assert check.patient == patient
    bookable_doctor(specialty_code=check.result_data["specialty"])
    assert "asked to sign in" not in client.get(check_url(check)).content.decode()

    response = book_from_result(client, check)
    appointment = Appointment.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == f"/appointments/{appointment.public_id}/"
    check.refresh_from_db()
    assert check.appointment == appointment


def test_an_anonymous_check_started_before_signing_in_is_attached_too():
    client = Client()
    check = finished_check(client)
    assert check.patient is None
    assert str(check.public_id) in client.session[services.SESSION_KEY]
    bookable_doctor(specialty_code=check.result_data["specialty"])

    patient = make_patient_user()
    client.force_login(patient.user)  # signing in keeps the browser session's checks
    response = book_from_result(client, check)
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient=patient)
    check.refresh_from_db()
    assert check.appointment == appointment
    assert check.patient == patient


def test_someone_elses_check_is_not_attached_but_the_booking_still_succeeds():
    # A check from another browser, and another patient's own check.
    anonymous = finished_check(Client())
    other = make_patient_user()
    theirs = finished_check(signed_in(other.user))
    doctor = bookable_doctor()

    patient = make_patient_user()
    client = signed_in(patient.user)
    step2 = client.get("/appointments/book/general_practice/?mode=in_person")
    confirm = html.unescape(CONFIRM_LINK.findall(step2.content.decode())[0])
    form = hidden_fields(client.get(confirm).content.decode())
    for i, check in enumerate((anonymous, theirs)):
        data = {**form, "mode": "in_person", "reason": "Cough", "triage": str(check.public_id)}
        if i:  # a different time for the second booking
            later = CONFIRM_LINK.findall(step2.content.decode())[1]
            data.update(hidden_fields(client.get(html.unescape(later)).content.decode()))
            data["triage"] = str(check.public_id)
        response = client.post(reverse("scheduling:book_confirm"), data)
        assert response.status_code == 302, response.content.decode()[:2000]
    assert Appointment.objects.filter(patient=patient, practitioner=doctor).count() == 2
    for check in (anonymous, theirs):
        check.refresh_from_db()
        assert check.appointment is None
    assert anonymous.patient is None and theirs.patient == other
    # A garbled id is ignored as well.
    assert (
        client.post(
            reverse("scheduling:book_confirm"), {**form, "mode": "video", "triage": "nonsense"}
        ).status_code
        != 500
    )


# --- the questionnaire on the appointment --------------------------------------------------------
@pytest.fixture
def booked_check():
    """A patient's finished check attached to the appointment they booked from it."""
    patient = make_patient_user()
    client = signed_in(patient.user)
    check = finished_check(client)
    doctor = bookable_doctor(specialty_code=check.result_data["specialty"])
    assert book_from_result(client, check).status_code == 302
    check.refresh_from_db()
    assert check.appointment is not None
    return check, client, doctor


def test_the_appointment_shows_the_questionnaire_to_its_doctor_and_patient(booked_check):
    check, patient_client, doctor = booked_check
    appointment = check.appointment
    url = f"/appointments/{appointment.public_id}/"
    rows = check.data["answers"]
    assert rows

    before = AccessRecord.objects.filter(category="triage").count()
    page = signed_in(doctor.user).get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Pre-consultation questionnaire" in text
    assert html.escape(SORE_THROAT) in text
    assert "Not sure" in text  # the answers given
    assert "asked" in text and "told us" in text
    assert (
        AccessRecord.objects.filter(
            category="triage",
            patient_id=appointment.patient.public_id,
            actor_id=doctor.user.public_id,
        ).count()
        > 0
    )
    assert AccessRecord.objects.filter(category="triage").count() > before

    page = patient_client.get(url).content.decode()
    assert "Pre-consultation questionnaire" in page


def test_reception_sees_the_appointment_but_not_the_questionnaire(booked_check):
    check, _, _ = booked_check
    receptionist = make_user(Role.RECEPTIONIST)
    response = signed_in(receptionist).get(f"/appointments/{check.appointment.public_id}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Pre-consultation questionnaire" not in page
    assert html.escape(SORE_THROAT) not in page
    assert not AccessRecord.objects.filter(
        category="triage", actor_id=receptionist.public_id
    ).exists()


# --- usage for administrators --------------------------------------------------------------------
def test_administrators_see_usage_counts(booked_check):
    start(Client())  # started, not finished
    finished_check(Client(), text=CHEST_PAIN, age=64, sex="male")
    response = signed_in(make_user(Role.CLINIC_ADMIN)).get("/symptoms/usage/")
    assert response.status_code == 200
    page = response.content.decode()
    stats = response.context["stats"]
    assert (stats.started, stats.finished, stats.booked) == (3, 2, 1)
    levels = {code: n for code, _, n in stats.by_level}
    assert levels["emergency"] == 1 and sum(levels.values()) == 2
    assert "<h2>3</h2>" in page and "<h2>2</h2>" in page and "<h2>1</h2>" in page
    assert "Emergency" in page
    # Counts only: nobody's words on it.
    assert SORE_THROAT not in page and "chest pain" not in page


@pytest.mark.parametrize("role", [Role.PATIENT, Role.DOCTOR, Role.RECEPTIONIST])
def test_usage_is_for_administrators_only(role):
    user = make_patient_user().user if role == Role.PATIENT else make_user(role)
    assert signed_in(user).get("/symptoms/usage/").status_code == 403


def test_usage_sends_anonymous_visitors_to_sign_in():
    response = Client().get("/symptoms/usage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- privacy -------------------------------------------------------------------------------------
def test_no_patient_words_ever_appear_in_a_url():
    patient = make_patient_user()
    client = signed_in(patient.user)
    response, check = start(client, text=SORE_THROAT)
    locations = [response["Location"]]
    for _ in range(MAX_QUESTIONS):
        check.refresh_from_db()
        if check.status == "done":
            break
        locations.append(answer(client, check)["Location"])
    bookable_doctor(specialty_code=check.result_data["specialty"])
    page = client.get(check_url(check)).content.decode()
    links = [html.unescape(u) for u in BOOK_LINK.findall(page)]
    confirm = book_from_result(client, check)
    locations += [*links, confirm["Location"]]
    words = {"sore", "throat", "fever", "yesterday"}
    for location in locations:
        parts = urlsplit(location)
        assert not words & set(re.split(r"\W+", (parts.path + parts.query).lower())), location
        query = re.sub(rf"triage={UUID}|mode=\w+", "", parts.query).strip("&")
        assert not query, f"unexpected data in {location}"

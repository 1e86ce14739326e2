"""The triage API contract (docs/triage.md): shapes, status codes, problem JSON on bad input,
no redirects, linking to the signed-in patient, rate limiting."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from carehub.patients.tests.factories import make_patient_user
from carehub.triage.kb import knowledge_base
from carehub.triage.models import TriageSession

pytestmark = pytest.mark.django_db

START = "/api/v1/triage/sessions/"


def answers_url(sid: str) -> str:
    return f"/api/v1/triage/sessions/{sid}/answers/"


@pytest.fixture
def api():
    return APIClient()


def start(api, **body):
    body.setdefault("age", 30)
    body.setdefault("sex", "female")
    return api.post(START, body, format="json")


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def finish(api, state, reply="unknown"):
    """Answer every question with `reply` until done; returns the final state and the count."""
    asked = []
    while state["status"] == "in_progress":
        finding = state["question"]["finding"]
        assert finding not in asked, "a question was asked twice"
        asked.append(finding)
        r = api.post(answers_url(state["id"]), {"finding": finding, "answer": reply}, format="json")
        assert r.status_code == 200, r.content
        state = r.json()
        assert len(asked) <= 30
    return state, asked


def test_findings_lists_every_askable_finding_without_sign_in(api):
    r = api.get("/api/v1/triage/findings/")
    assert r.status_code == 200
    ids = {f["id"] for f in r.json()}
    kb = knowledge_base()
    assert ids == set(kb.findings)
    mentioned = {f for c in kb.conditions for f in c.findings} | {
        f for rule in kb.red_flags for f in rule.finding_ids()
    }
    assert mentioned <= ids
    chest = next(f for f in r.json() if f["id"] == "chest_pain")
    assert chest["label"] and chest["question"].endswith("?")


def test_start_with_empty_text_and_findings_asks_a_question(api):
    r = start(api, text="", findings=[])
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "status", "question", "result"}
    assert body["status"] == "in_progress" and body["result"] is None
    assert body["question"]["finding"] in knowledge_base().findings
    assert body["question"]["text"]


def test_structured_start_then_answers_reach_a_complete_result(api):
    r = start(api, age=0.75, sex="male", findings=[{"id": "cough", "present": True}])
    assert r.status_code == 201
    state, asked = finish(api, r.json(), reply="no")
    result = state["result"]
    assert state["question"] is None
    assert result["triage"] in {"emergency", "urgent", "routine", "self_care"}
    assert result["specialty"] in knowledge_base().specialties
    assert isinstance(result["red_flags"], list) and isinstance(result["explanation"], str)
    assert result["conditions"] and {"name", "icd10", "score"} <= set(result["conditions"][0])
    assert result["knowledge_base"]["version"] == knowledge_base().version
    assert len(asked) <= knowledge_base().meta.engine.max_questions


def test_emergency_text_ends_at_once_with_red_flags(api):
    r = start(
        api,
        age=64,
        sex="male",
        text="Crushing pain in my chest spreading to my left arm, I'm sweating and feel sick.",
    )
    body = r.json()
    assert r.status_code == 201
    assert body["status"] == "done"
    assert body["result"]["triage"] == "emergency"
    assert body["result"]["red_flags"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"age": 30, "sex": "female", "findings": [{"id": "nope", "present": True}]}, "findings"),
        ({"age": 30, "sex": "female", "findings": [{"present": True}]}, "findings"),
        ({"age": 30, "sex": "male", "findings": [{"id": "cough", "present": "maybe"}]}, "findings"),
        ({"age": 30, "sex": "female", "findings": "cough"}, "findings"),
        ({"age": 130, "sex": "female"}, "age"),
        ({"age": -1, "sex": "female"}, "age"),
        ({"age": "thirty", "sex": "female"}, "age"),
        ({"sex": "female"}, "age"),
        ({"age": 30, "sex": "x"}, "sex"),
        ({"age": 30}, "sex"),
        ({"age": 30, "sex": "male", "text": 5}, "text"),
        ({"age": 30, "sex": "male", "text": "a" * 2001}, "text"),
    ],
)  # fmt: skip
def test_bad_start_is_400_problem_naming_the_field(api, body, field):
    r = api.post(START, body, format="json")
    problem = assert_problem(r, 400)
    assert field in problem["errors"]
    assert TriageSession.objects.count() == 0


def test_unknown_finding_is_named_in_the_problem(api):
    r = start(api, findings=[{"id": "chest_pian", "present": True}])
    assert "chest_pian" in assert_problem(r, 400)["detail"]


def test_non_json_body_is_400_problem(api):
    r = api.post(START, "not json", content_type="application/json")
    assert_problem(r, 400)


def test_answer_errors(api):
    state = start(api, findings=[{"id": "sore_throat", "present": True}]).json()
    sid, finding = state["id"], state["question"]["finding"]
    assert_problem(
        api.post(answers_url(sid), {"finding": finding, "answer": "maybe"}, format="json"), 400
    )
    assert_problem(
        api.post(answers_url(sid), {"finding": "nope", "answer": "yes"}, format="json"), 400
    )
    other = next(f for f in knowledge_base().findings if f != finding)
    conflict = assert_problem(
        api.post(answers_url(sid), {"finding": other, "answer": "yes"}, format="json"), 409
    )
    assert conflict["current_question"] == finding
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(
        api.post(answers_url(missing), {"finding": finding, "answer": "yes"}, format="json"), 404
    )
    assert_problem(
        api.post(answers_url("not-a-uuid"), {"finding": finding, "answer": "yes"}, format="json"),
        404,
    )
    # the bad requests changed nothing
    assert TriageSession.objects.get().questions_asked == 0


def test_answering_a_finished_session_is_409(api):
    state = start(api, findings=[{"id": "sore_throat", "present": True}]).json()
    state, asked = finish(api, state)
    r = api.post(answers_url(state["id"]), {"finding": asked[-1], "answer": "yes"}, format="json")
    assert_problem(r, 409)


def test_paths_do_not_redirect(api):
    assert api.get("/api/v1/triage/findings/").status_code == 200
    r = start(api, findings=[{"id": "cough", "present": True}])
    assert r.status_code == 201
    r = api.post(answers_url(r.json()["id"]), {"finding": "x", "answer": "yes"}, format="json")
    assert r.status_code == 400


def test_a_signed_in_patients_check_is_theirs_alone(api):
    patient = make_patient_user()
    api.force_authenticate(patient.user)
    state = start(api, findings=[{"id": "cough", "present": True}]).json()
    session = TriageSession.objects.get(public_id=state["id"])
    assert session.patient == patient
    stranger = APIClient()
    r = stranger.post(
        answers_url(state["id"]),
        {"finding": state["question"]["finding"], "answer": "no"},
        format="json",
    )
    assert_problem(r, 404)
    assert stranger.get(f"/api/v1/triage/sessions/{state['id']}/").status_code == 404
    assert api.get(f"/api/v1/triage/sessions/{state['id']}/").json()["id"] == state["id"]


def test_the_patients_words_are_encrypted_at_rest(api):
    from django.db import connection

    start(api, text="My secret headache story")
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM triage_triagesession")
        (stored,) = cursor.fetchone()
    assert "secret" not in stored


def test_starting_sessions_is_rate_limited(api, monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"triage_start": "2/min", "triage_read": "100/min"}
    )
    assert start(api, text="cough").status_code == 201
    assert start(api, text="cough").status_code == 201
    r = start(api, text="cough")
    assert_problem(r, 429)
    assert "Retry-After" in r


def test_linked_checks_are_audited_and_anonymous_ones_are_not(api):
    from carehub.audit.models import ChangeRecord

    start(api, findings=[{"id": "cough", "present": True}])
    assert not ChangeRecord.objects.filter(model="triage.triagesession").exists()
    patient = make_patient_user()
    api.force_authenticate(patient.user)
    state = start(api, findings=[{"id": "cough", "present": True}]).json()
    api.post(
        answers_url(state["id"]),
        {"finding": state["question"]["finding"], "answer": "no"},
        format="json",
    )
    rows = ChangeRecord.objects.filter(model="triage.triagesession")
    assert rows.count() == 2
    assert {r.patient_id for r in rows} == {patient.public_id}
    assert all(
        "content" not in (r.after or {}) or str(r.after["content"]).startswith("encrypted:")
        for r in rows
    )


def test_old_anonymous_checks_are_forgotten_but_still_counted(api, settings):
    from datetime import timedelta

    from django.utils import timezone

    from carehub.triage import services

    settings.TRIAGE_ANONYMOUS_RETENTION_DAYS = 30
    old = start(api, text="my private words about a cough").json()
    recent = start(api, text="a sore throat").json()
    patient = make_patient_user()
    api.force_authenticate(patient.user)
    linked = start(api, text="a rash").json()
    TriageSession.objects.filter(public_id__in=[old["id"], linked["id"]]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    assert services.anonymous_checks_forget() == 1
    assert services.anonymous_checks_forget() == 0  # nothing left to erase
    forgotten = TriageSession.objects.get(public_id=old["id"])
    assert forgotten.forgotten and forgotten.result == "" and forgotten.data == {}
    assert forgotten.age == 30  # the usage figures keep their plain columns
    assert not TriageSession.objects.get(public_id=recent["id"]).forgotten
    assert not TriageSession.objects.get(public_id=linked["id"]).forgotten  # the patient's own
    api.force_authenticate(None)
    assert api.get(f"/api/v1/triage/sessions/{old['id']}/").status_code == 404


def test_the_web_pages_find_an_anonymous_check_only_in_the_browser_that_started_it(api):
    from django.contrib.auth.models import AnonymousUser

    from carehub.core.exceptions import NotFound
    from carehub.triage import selectors

    sid = start(api, text="cough").json()["id"]
    who = AnonymousUser()
    assert selectors.session_get(actor=who, public_id=sid).public_id  # the API: the id is enough
    assert selectors.session_get(actor=who, public_id=sid, claimed=[sid])
    with pytest.raises(NotFound):
        selectors.session_get(actor=who, public_id=sid, claimed=[])

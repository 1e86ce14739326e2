"""Symptom-checker sessions: start, answer, go back, finish and attach to an appointment.

Sessions may be anonymous (the checker needs no account); a session started by a signed-in
patient is linked to their record and only they can continue it. Every write locks the session
row, so two answers racing for the same question cannot both count."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.core.exceptions import Conflict, NotFound, ValidationFailed
from carehub.patients import selectors as patients
from carehub.triage import engine, text
from carehub.triage.choices import Answer, SessionStatus, Sex
from carehub.triage.kb import KnowledgeBase, knowledge_base
from carehub.triage.models import TriageSession

MAX_TEXT = 2000
SESSION_KEY = "triage_sessions"  # ids of the checks started in this browser session
MAX_FINDINGS = 60


def _age(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationFailed("Give the age in years.", field_errors={"age": ["Required."]})
    try:
        age = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(
            "Give the age in years.", field_errors={"age": ["Must be a number."]}
        ) from exc
    if not age.is_finite() or not (0 <= age <= 120):
        raise ValidationFailed(
            "Give an age from 0 to 120 years.", field_errors={"age": ["Must be 0 to 120."]}
        )
    return age.quantize(Decimal("0.01"))


def _validate_findings(kb: KnowledgeBase, findings: Iterable[Any]) -> dict[str, bool]:
    chosen: dict[str, bool] = {}
    items = list(findings)
    if len(items) > MAX_FINDINGS:
        raise ValidationFailed(
            f"Give at most {MAX_FINDINGS} findings.", field_errors={"findings": ["Too many."]}
        )
    unknown = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValidationFailed(
                'Each finding is {"id": "<finding id>", "present": true|false}.',
                field_errors={"findings": ["Malformed finding."]},
            )
        present = item.get("present", True)
        if not isinstance(present, bool):
            raise ValidationFailed(
                '"present" must be true or false.', field_errors={"findings": ["Bad present."]}
            )
        if item["id"] not in kb.findings:
            unknown.append(item["id"][:64])
            continue
        chosen[item["id"]] = present
    if unknown:
        raise ValidationFailed(
            "Unknown finding id: " + ", ".join(sorted(set(unknown))[:10]) + ".",
            field_errors={"findings": [f"Unknown finding id: {u}" for u in unknown[:10]]},
        )
    return chosen


def _patient_for(actor) -> Any:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    if actor.role != Role.PATIENT:
        return None
    return patients.patient_of_user(user=actor)


def _advance(session: TriageSession, kb: KnowledgeBase, data: dict[str, Any]) -> None:
    """Run the engine on the stored answers and record the next question or the result."""
    answers = dict(data["answers"])
    step = engine.step(
        kb=kb,
        age=float(session.age),
        sex=session.sex,
        initial=data["initial"],
        answers=answers,
    )
    session.content = json.dumps(data)
    session.questions_asked = len(answers)
    if step.question is not None:
        session.status = SessionStatus.IN_PROGRESS
        session.question = step.question.finding
        session.triage = ""
        session.specialty = ""
        session.result = ""
        session.finished_at = None
    else:
        assert step.result is not None
        session.status = SessionStatus.DONE
        session.question = ""
        session.triage = step.result.triage
        session.specialty = step.result.specialty
        session.result = json.dumps(engine.result_json(step.result, kb))
        session.finished_at = timezone.now()


@transaction.atomic
def session_start(
    *,
    actor,
    age: Any,
    sex: Any,
    text_input: Any = "",
    findings: Any = (),
) -> TriageSession:
    """Start a symptom check from age, sex, free text and/or chosen findings."""
    kb = knowledge_base()
    errors: dict[str, list[str]] = {}
    if sex not in Sex.values:
        errors["sex"] = ['Must be "male" or "female".']
    if text_input is None:
        text_input = ""
    if not isinstance(text_input, str):
        errors["text"] = ["Must be a string."]
    elif len(text_input) > MAX_TEXT:
        errors["text"] = [f"At most {MAX_TEXT} characters."]
    if findings is None:
        findings = []
    if not isinstance(findings, list | tuple):
        errors["findings"] = ["Must be a list."]
    if errors:
        raise ValidationFailed("The symptom check has invalid fields.", field_errors=errors)
    age_value = _age(age)
    chosen = _validate_findings(kb, findings)
    initial = {m.finding: m.present for m in text.extract(text_input, kb)}
    initial.update(chosen)  # what the patient ticked wins over what we read in their words
    session = TriageSession(
        patient=_patient_for(actor), age=age_value, sex=sex, kb_version=kb.version
    )
    _advance(session, kb, {"text": text_input, "initial": initial, "answers": []})
    session.save()
    return session


def _locked(*, actor, public_id: uuid.UUID | str) -> TriageSession:
    try:
        session = (
            TriageSession.objects.select_for_update(of=("self",))
            .select_related("patient")
            .get(public_id=uuid.UUID(str(public_id)))
        )
    except (ValueError, TriageSession.DoesNotExist) as exc:
        raise NotFound("No such symptom check.") from exc
    if not may_continue(actor=actor, session=session):
        raise NotFound("No such symptom check.")
    return session


def may_continue(*, actor, session: TriageSession) -> bool:
    """Anonymous sessions are open to whoever holds their id (the API contract); a session
    linked to a patient only to that patient's account."""
    if session.patient_id is None:
        return True
    return bool(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and session.patient is not None
        and session.patient.user_id == actor.pk
    )


@transaction.atomic
def session_answer(
    *, actor, public_id: uuid.UUID | str, finding: Any, answer: Any
) -> TriageSession:
    """Record the answer to the current question and move on."""
    kb = knowledge_base()
    if not isinstance(finding, str) or finding not in kb.findings:
        raise ValidationFailed(
            "Unknown finding id.", field_errors={"finding": ["Unknown finding id."]}
        )
    if answer not in Answer.values:
        raise ValidationFailed(
            'Answer "yes", "no" or "unknown".',
            field_errors={"answer": ['Must be "yes", "no" or "unknown".']},
        )
    session = _locked(actor=actor, public_id=public_id)
    if session.status == SessionStatus.DONE:
        raise Conflict("This symptom check is finished; start a new one to change the answers.")
    if finding != session.question:
        raise Conflict(
            "That is not the question being asked now.", current_question=session.question
        )
    data = session.data
    data["answers"].append([finding, answer])
    _advance(session, kb, data)
    session.save()
    return session


@transaction.atomic
def session_back(*, actor, public_id: uuid.UUID | str) -> TriageSession:
    """Undo the last answer (the interview's "Back" button)."""
    kb = knowledge_base()
    session = _locked(actor=actor, public_id=public_id)
    if session.status == SessionStatus.DONE:
        raise Conflict("This symptom check is finished; start a new one to change the answers.")
    data = session.data
    if not data["answers"]:
        raise Conflict("There is no earlier question.")
    data["answers"].pop()
    _advance(session, kb, data)
    session.save()
    return session


@transaction.atomic
def session_attach(
    *, actor, public_id: uuid.UUID | str, appointment: Any, claimable: Iterable[str] = ()
) -> bool:
    """Attach a finished check to the appointment booked from it, as the pre-consultation
    questionnaire. Only the patient's own check (or an anonymous one started in the same
    browser session, `claimable`) is attached; anything else is ignored, never an error, so a
    booking never fails because of it."""
    try:
        key = uuid.UUID(str(public_id))
        session = (
            TriageSession.objects.select_for_update(of=("self",))
            .select_related("patient")
            .get(public_id=key)
        )
    except (ValueError, TriageSession.DoesNotExist):
        return False
    if session.status != SessionStatus.DONE or session.appointment_id is not None:
        return False
    if session.patient_id is None:
        if str(key) not in {str(c) for c in claimable}:
            return False
        session.patient_id = appointment.patient_id
    elif session.patient_id != appointment.patient_id:
        return False
    session.appointment = appointment
    session.save(update_fields=["patient", "appointment", "updated_at"])
    return True


def anonymous_checks_forget(*, now=None) -> int:
    """Erase the words, answers and result of anonymous checks older than
    settings.TRIAGE_ANONYMOUS_RETENTION_DAYS that no booking claimed: nobody can come back for
    them, and health data is not kept without a reason. The plain columns (age, sex, level,
    specialty, times) stay for the usage figures. Returns how many were erased."""
    from datetime import timedelta

    from django.conf import settings

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TRIAGE_ANONYMOUS_RETENTION_DAYS)
    stale = TriageSession.objects.filter(
        patient__isnull=True, appointment__isnull=True, created_at__lt=cutoff
    ).exclude(content="")
    return stale.update(content="", result="", question="")

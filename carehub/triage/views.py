"""Symptom checker pages: start, one question at a time, the result with the hand-off to booking,
and the usage page for administrators. Open to anonymous visitors; a check is only shown to the
browser session that started it or to the signed-in patient it belongs to."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from carehub.accounts.choices import Role
from carehub.core.decorators import role_required
from carehub.core.exceptions import Conflict, NotFound, ValidationFailed
from carehub.patients import selectors as patients
from carehub.triage import engine, selectors, services
from carehub.triage.forms import StartForm
from carehub.triage.kb import knowledge_base
from carehub.triage.models import TriageSession

LEVEL_HEADLINES = {
    "emergency": "Get emergency help now",
    "urgent": "See a doctor today",
    "routine": "Book an appointment",
    "self_care": "You can probably look after this at home",
}


def _own_patient(request: HttpRequest) -> Any:
    user = request.user
    if user.is_authenticated and user.role == Role.PATIENT:
        return patients.patient_of_user(user=user)
    return None


def _remember(request: HttpRequest, session: TriageSession) -> None:
    ids = [i for i in request.session.get(services.SESSION_KEY, []) if i != str(session.public_id)]
    request.session[services.SESSION_KEY] = [*ids[-19:], str(session.public_id)]


def _visible(request: HttpRequest, public_id) -> TriageSession:
    """The check, if this browser started it or it is the signed-in patient's own."""
    try:
        return selectors.session_get(
            actor=request.user,
            public_id=public_id,
            claimed=request.session.get(services.SESSION_KEY, []),
        )
    except NotFound as exc:
        raise Http404("No such symptom check.") from exc


def _age_in_years(birth_date, today) -> Any:
    """Completed years (a whole number, as people give their age); a fraction under two."""
    days = (today - birth_date).days
    if days < 2 * 365:
        return round(max(days, 0) / 365.25, 2)
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


@never_cache
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    kb = knowledge_base()
    choices = sorted(
        ((f.id, f.label) for f in kb.findings.values() if f.category not in ("course", "history")),
        key=lambda c: c[1],
    )
    patient = _own_patient(request)
    initial: dict[str, Any] = {}
    if patient is not None:
        initial["age"] = _age_in_years(patient.birth_date, timezone.localdate())
        if patient.sex in ("male", "female"):
            initial["sex"] = patient.sex
    form = StartForm(request.POST or None, initial=initial, choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_start(
                actor=request.user,
                age=form.cleaned_data["age"],
                sex=form.cleaned_data["sex"],
                text_input=form.cleaned_data["text"],
                findings=[{"id": f, "present": True} for f in form.cleaned_data["findings"]],
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            _remember(request, session)
            return redirect("triage:session", public_id=session.public_id)
    return render(
        request,
        "triage/start.html",
        {"form": form, "kb": kb.meta},
        status=400 if request.method == "POST" else 200,
    )


def _booking_links(result: dict[str, Any], session: TriageSession) -> dict[str, Any]:
    target = selectors.booking_target(specialty=result["specialty"])
    if not target.code:
        return {"links": [], "wanted": target.wanted}
    base = reverse("scheduling:book_slots", kwargs={"specialty_code": target.code})
    triage = f"triage={session.public_id}"
    return {
        "label": target.label,
        "article": "an" if target.label[:1].lower() in "aeiou" else "a",
        "wanted": target.wanted,
        "fallback": target.fallback,
        "links": [
            ("In person", f"{base}?mode=in_person&{triage}"),
            ("By video", f"{base}?mode=video&{triage}"),
        ],
    }


@never_cache
@require_http_methods(["GET"])
def session(request: HttpRequest, public_id) -> HttpResponse:
    check = _visible(request, public_id)
    kb = knowledge_base()
    context: dict[str, Any] = {"check": check, "kb": kb.meta}
    if check.status == "done":
        result = check.result_data or {}
        phone = selectors.emergency_phone(actor=request.user)
        context.update(
            result=result,
            headline=LEVEL_HEADLINES[result["triage"]],
            emergency_phone=phone,
            # The knowledge base is written from UK guidance ("call 999"); the page names the
            # number of the patient's own site.
            advice=re.sub(r"\b999\b", phone, result.get("advice", "")),
            booking=_booking_links(result, check) if result["triage"] != "emergency" else None,
            red_flag_labels=[kb.findings[f].label for f in result["red_flags"] if f in kb.findings],
            specialty_label=kb.specialties.get(result["specialty"], result["specialty"]),
            signed_in=request.user.is_authenticated,
        )
        return render(request, "triage/result.html", context)
    finding = kb.findings[check.question]
    context.update(
        question=engine.Question(
            finding=finding.id,
            text=finding.question,
            why=finding.why or engine.CATEGORY_WHY.get(finding.category, ""),
        ),
        number=check.questions_asked + 1,
        limit=kb.meta.engine.max_questions,
        progress=min(100, round(100 * check.questions_asked / kb.meta.engine.max_questions)),
    )
    return render(request, "triage/question.html", context)


@require_POST
def answer(request: HttpRequest, public_id) -> HttpResponse:
    _visible(request, public_id)
    # A stale page (answered in another tab, or the browser's back button) just shows the
    # current state again.
    with contextlib.suppress(Conflict, ValidationFailed):
        services.session_answer(
            actor=request.user,
            public_id=public_id,
            finding=request.POST.get("finding"),
            answer=request.POST.get("answer"),
        )
    return redirect("triage:session", public_id=public_id)


@require_POST
def back(request: HttpRequest, public_id) -> HttpResponse:
    _visible(request, public_id)
    try:
        services.session_back(actor=request.user, public_id=public_id)
    except Conflict:
        return redirect("triage:start")
    return redirect("triage:session", public_id=public_id)


@never_cache
@require_http_methods(["GET"])
@role_required(Role.CLINIC_ADMIN)
def usage(request: HttpRequest) -> HttpResponse:
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    stats = selectors.usage(actor=request.user, days=days)
    return render(request, "triage/usage.html", {"stats": stats, "kb": knowledge_base().meta})

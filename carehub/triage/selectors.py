"""Reads of symptom-checker sessions: the patient's own, the questionnaire a clinician sees with
an appointment (an audited read of patient data), and the usage figures for administrators
(counts only, never content)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from carehub.accounts.choices import Role
from carehub.audit.choices import AccessCategory
from carehub.core.exceptions import Forbidden, NotFound
from carehub.patients import selectors as patients
from carehub.triage import services
from carehub.triage.choices import SessionStatus, TriageLevel
from carehub.triage.kb import KnowledgeBase, knowledge_base
from carehub.triage.models import TriageSession


def findings_catalogue(kb: KnowledgeBase | None = None) -> list[dict[str, Any]]:
    """Every finding the checker can ask about, for the API and the complaint picker."""
    kb = kb or knowledge_base()
    return [
        {
            "id": f.id,
            "label": f.label,
            "question": f.question,
            "category": f.category,
            "synonyms": list(f.synonyms),
            "snomed": f.snomed,
        }
        for f in kb.findings.values()
    ]


def session_get(
    *, actor, public_id: uuid.UUID | str, claimed: Iterable[str] | None = None
) -> TriageSession:
    """A session `actor` may see (see services.may_continue), or NotFound. With `claimed` (the
    ids a browser session started: the web pages), an anonymous session is only found by the
    browser that started it; the API (no `claimed`) follows the contract: its id is enough."""
    try:
        session = TriageSession.objects.select_related("patient").get(
            public_id=uuid.UUID(str(public_id))
        )
    except (ValueError, TriageSession.DoesNotExist) as exc:
        raise NotFound("No such symptom check.") from exc
    if not services.may_continue(actor=actor, session=session) or session.forgotten:
        raise NotFound("No such symptom check.")
    if (
        claimed is not None
        and session.patient_id is None
        and str(session.public_id) not in {str(c) for c in claimed}
    ):
        raise NotFound("No such symptom check.")
    if session.patient is not None:
        patients.log_access(actor=actor, patients=[session.patient], category=AccessCategory.TRIAGE)
    return session


@dataclass(frozen=True)
class AnswerRow:
    label: str
    answer: str  # "Yes" / "No" / "Not sure"
    source: str  # "told us" / "asked"


@dataclass(frozen=True)
class Questionnaire:
    public_id: uuid.UUID
    taken_at: Any
    text: str
    rows: list[AnswerRow]
    result: dict[str, Any]
    kb_version: str
    triage_label: str = ""
    specialty_label: str = ""
    red_flag_labels: tuple[str, ...] = ()


def questionnaire(session: TriageSession, kb: KnowledgeBase | None = None) -> Questionnaire:
    kb = kb or knowledge_base()
    data = session.data

    def label(fid: str) -> str:
        finding = kb.findings.get(fid)
        return finding.label if finding else fid

    rows = [
        AnswerRow(label(f), "Yes" if present else "No", "told us")
        for f, present in data.get("initial", {}).items()
    ]
    names = {"yes": "Yes", "no": "No", "unknown": "Not sure"}
    rows += [AnswerRow(label(f), names.get(a, a), "asked") for f, a in data.get("answers", [])]
    result = session.result_data or {}
    return Questionnaire(
        public_id=session.public_id,
        taken_at=session.finished_at or session.created_at,
        text=data.get("text", ""),
        rows=rows,
        result=result,
        kb_version=session.kb_version,
        triage_label=session.get_triage_display() if session.triage else "",
        specialty_label=kb.specialties.get(session.specialty, session.specialty),
        red_flag_labels=tuple(label(f) for f in result.get("red_flags", [])),
    )


def questionnaire_for_appointment(*, actor, appointment: Any) -> Questionnaire | None:
    """The pre-consultation questionnaire attached to `appointment`, for someone who may already
    see that appointment (the caller has read it through scheduling's restricted selectors).
    Receptionists see appointments but not clinical content, so they get nothing."""
    if actor.role not in (Role.DOCTOR, Role.NURSE, Role.PATIENT):
        return None
    session = (
        TriageSession.objects.filter(appointment_id=appointment.pk)
        .select_related("patient")
        .first()
    )
    if session is None:
        return None
    if actor.role == Role.PATIENT and (
        session.patient is None or session.patient.user_id != actor.pk
    ):
        return None
    patients.log_access(actor=actor, patients=[appointment.patient], category=AccessCategory.TRIAGE)
    return questionnaire(session)


@dataclass
class Usage:
    days: int
    since: date
    per_day: list[tuple[date, int, int]]  # day, started, finished
    started: int
    finished: int
    by_level: list[tuple[str, str, int]]  # code, label, count
    booked: int
    by_specialty: list[tuple[str, int]] = field(default_factory=list)

    @property
    def completion(self) -> float:
        return self.finished / self.started if self.started else 0.0

    @property
    def conversion(self) -> float:
        """Share of finished checks that led to a booked appointment."""
        return self.booked / self.finished if self.finished else 0.0

    @property
    def max_per_day(self) -> int:
        return max((started for _, started, _ in self.per_day), default=0) or 1


def usage(*, actor, days: int = 30) -> Usage:
    """Sessions per day, triage distribution and conversion to bookings (administrators)."""
    if actor.role != Role.CLINIC_ADMIN:
        raise Forbidden("Only administrators see symptom-checker usage.")
    days = max(1, min(days, 365))
    today = timezone.localdate()
    since = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(since, time.min))
    rows = TriageSession.objects.filter(created_at__gte=start)
    daily = {
        row["day"]: (row["started"], row["finished"])
        for row in rows.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(started=Count("id"), finished=Count("id", filter=Q(status=SessionStatus.DONE)))
    }
    per_day = [
        (since + timedelta(days=n), *daily.get(since + timedelta(days=n), (0, 0)))
        for n in range(days)
    ]
    totals = rows.aggregate(
        started=Count("id"),
        finished=Count("id", filter=Q(status=SessionStatus.DONE)),
        booked=Count("id", filter=Q(appointment__isnull=False)),
    )
    levels = dict(
        rows.filter(status=SessionStatus.DONE)
        .values_list("triage")
        .annotate(n=Count("id"))
        .values_list("triage", "n")
    )
    specialties = list(
        rows.filter(status=SessionStatus.DONE)
        .values_list("specialty")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("specialty", "n")[:8]
    )
    return Usage(
        days=days,
        since=since,
        per_day=per_day,
        started=totals["started"],
        finished=totals["finished"],
        by_level=[(c, label, levels.get(c, 0)) for c, label in TriageLevel.choices],
        booked=totals["booked"],
        by_specialty=specialties,
    )


@dataclass(frozen=True)
class BookingTarget:
    """Where "Book an appointment" sends the patient after a check."""

    code: str  # a bookable specialty code, or "" when nobody books online
    label: str
    wanted: str  # the specialty the checker suggested
    fallback: bool  # the suggested specialty takes no online bookings: general practice instead


def booking_target(*, specialty: str) -> BookingTarget:
    """The suggested specialty if someone books it online, else general practice (who can refer)."""
    from carehub.scheduling import selectors as scheduling

    kb = knowledge_base()
    bookable = {s.code: s for s in scheduling.bookable_specialties()}
    wanted = kb.specialties.get(specialty, specialty)
    if specialty in bookable:
        return BookingTarget(specialty, bookable[specialty].label, wanted, False)
    if "general_practice" in bookable:
        return BookingTarget("general_practice", bookable["general_practice"].label, wanted, True)
    return BookingTarget("", "", wanted, True)


def emergency_phone(*, actor) -> str:
    """The number an emergency result tells the patient to call: their own site's, else the
    first site's; never blank."""
    from carehub.directory import selectors as directory

    site = None
    if getattr(actor, "is_authenticated", False) and actor.role == Role.PATIENT:
        patient = patients.patient_of_user(user=actor)
        site = getattr(patient, "site", None)
    if site is None:
        site = directory.site_choices().first()
    phone = site.emergency_phone.strip() if site is not None else ""
    return phone or "your local emergency number"

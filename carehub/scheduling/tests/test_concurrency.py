"""No double booking under real concurrency: threads, each with its own database connection,
released together by a barrier.

The same tests run on both databases. PostgreSQL lets the transactions interleave and the
exclusion constraints of migration 0002 decide; SQLite serialises writers (IMMEDIATE
transactions with a busy timeout, see config/settings/base.py) and its triggers refuse an
overlap. Either way exactly one booking wins and every loser gets SlotUnavailable (409) with
alternatives, never an IntegrityError or a 500."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connection, connections
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.core.exceptions import ServiceError
from carehub.core.testing.contracts import client_for
from carehub.patients.models import CareRelationship
from carehub.patients.tests.factories import make_patient_user
from carehub.scheduling import selectors, services
from carehub.scheduling.choices import ACTIVE_STATUSES
from carehub.scheduling.models import Appointment
from carehub.scheduling.tests.factories import bookable_doctor, days_ahead, local

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
ON_POSTGRES = connection.vendor == "postgresql"


def race(n: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run work(0..n-1) in n threads started together; ("ok", value) or ("error", exception)."""
    barrier = threading.Barrier(n)
    results: list[tuple[str, Any]] = [("missing", None)] * n

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = ("ok", work(i))
        except BaseException as exc:  # reported by the test; a thread cannot fail it itself
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return results


def outcome(result: tuple[str, Any]) -> str:
    """'ok', the refusal code of a ServiceError, or the name of any other exception."""
    kind, value = result
    if kind == "ok":
        return "ok"
    if isinstance(value, ServiceError):
        return str(value.extra.get("code", type(value).__name__))
    return f"{type(value).__name__}: {value}"


def no_overlaps() -> None:
    rows = list(Appointment.objects.filter(status__in=ACTIVE_STATUSES).order_by("start"))
    for key in ("practitioner_id", "patient_id"):
        groups: dict[int, list[Appointment]] = {}
        for a in rows:
            groups.setdefault(getattr(a, key), []).append(a)
        for group in groups.values():
            for earlier, later in itertools.pairwise(group):
                assert earlier.end <= later.start, f"overlapping active appointments ({key})"


@pytest.fixture
def doctor():
    return bookable_doctor()


@pytest.fixture
def site(doctor):
    return doctor.sites.first()


def test_many_threads_booking_one_slot_exactly_one_wins(doctor, site):
    patients = [make_patient_user() for _ in range(THREADS)]
    start = local(site, days_ahead(3), 10, 0)

    def book(i: int) -> int:
        return services.appointment_book(
            actor=patients[i].user, practitioner=doctor, start=start, mode="in_person"
        ).pk

    results = race(THREADS, book)
    outcomes = Counter(outcome(r) for r in results)
    assert outcomes == {"ok": 1, "taken": THREADS - 1}, outcomes
    assert Appointment.objects.filter(status__in=ACTIVE_STATUSES).count() == 1
    for kind, exc in results:
        if kind == "error":
            assert exc.status == 409
            alternatives = exc.extra["alternatives"]
            assert alternatives and start.isoformat() not in [a["start"] for a in alternatives]
    no_overlaps()


def test_many_api_clients_booking_one_slot_get_one_201_and_409s(doctor, site):
    patients = [make_patient_user() for _ in range(THREADS)]
    clients = [client_for(p.user, api=True) for p in patients]
    body = {
        "practitioner": str(doctor.public_id),
        "start": local(site, days_ahead(4), 9, 30).isoformat(),
        "mode": "video",
    }
    url = reverse("api-appointments")

    def post(i: int) -> tuple[int, dict]:
        response = clients[i].post(url, body, format="json")
        return response.status_code, response.json()

    results = race(THREADS, post)
    assert all(kind == "ok" for kind, _ in results), [outcome(r) for r in results]
    statuses = Counter(status for _, (status, _) in results)
    assert statuses == {201: 1, 409: THREADS - 1}, statuses
    for _, (status, data) in results:
        if status == 409:
            assert data["code"] == "taken"
            assert data["alternatives"]
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("day", [5, 6, 7])
def test_database_decides_when_every_check_passed(doctor, site, monkeypatch, day):
    """Every thread is told the slot is free (as when all read before anyone commits): the
    database refuses all but one insert (on PostgreSQL some as deadlocks between inserts
    checking the exclusion constraint at once), and the losers still get a clean 409."""
    patients = [make_patient_user() for _ in range(THREADS)]
    start = local(site, days_ahead(day), 11, 0)
    [slot] = selectors.free_slots(
        practitioner_ids=[doctor.pk], start=start, end=start + timedelta(minutes=1)
    )[doctor.pk]
    rules = selectors.site_rules(slot.site_id)
    monkeypatch.setattr(services, "_check_slot", lambda **kwargs: (slot, rules))

    def book(i: int) -> int:
        return services.appointment_book(
            actor=patients[i].user, practitioner=doctor, start=start, mode="in_person"
        ).pk

    outcomes = Counter(outcome(r) for r in race(THREADS, book))
    assert outcomes == {"ok": 1, "taken": THREADS - 1}, outcomes
    no_overlaps()


class FakeDeadlock(Exception):
    """What psycopg raises when PostgreSQL aborts a transaction to break a deadlock."""

    sqlstate = "40P01"


def failing_create(sqlstate: str):
    def create(**kwargs):
        cause = FakeDeadlock("deadlock detected")
        cause.sqlstate = sqlstate
        raise OperationalError("deadlock detected") from cause

    return create


def test_a_deadlock_on_the_overlap_check_is_a_lost_race(doctor, site, monkeypatch):
    """Two inserts of overlapping appointments that check PostgreSQL's exclusion constraint at
    the same moment each wait for the other; PostgreSQL aborts one with "deadlock detected"
    (seen as a 500 in bench/scheduling.py). That one lost the race: 409 with alternatives."""
    patient = make_patient_user()
    monkeypatch.setattr(Appointment.objects, "create", failing_create("40P01"))
    with pytest.raises(services.SlotUnavailable) as caught:
        services.appointment_book(
            actor=patient.user,
            practitioner=doctor,
            start=local(site, days_ahead(3), 9, 0),
            mode="video",
        )
    assert caught.value.extra["code"] == "taken"
    assert caught.value.extra["alternatives"]
    # Any other database error is not a refusal: it is raised as it is.
    monkeypatch.setattr(Appointment.objects, "create", failing_create("57014"))
    with pytest.raises(OperationalError):
        services.appointment_book(
            actor=patient.user,
            practitioner=doctor,
            start=local(site, days_ahead(3), 9, 0),
            mode="video",
        )


def is_refusal(exc: BaseException) -> bool:
    """What the database answers an overlapping write: a constraint violation or, on
    PostgreSQL, a deadlock between two inserts checking the exclusion constraint at once."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", "") == "40P01"


def test_overlapping_inserts_that_bypass_the_services_are_refused(doctor, site):
    """Raw ORM inserts of shifted, overlapping times: the constraint admits exactly one."""
    patients = [make_patient_user() for _ in range(THREADS)]
    base = local(site, days_ahead(6), 9, 0)

    def insert(i: int) -> int:
        start = base + timedelta(minutes=i)  # each overlaps every other
        return Appointment.objects.create(
            practitioner=doctor,
            patient=patients[i],
            site=site,
            start=start,
            end=start + timedelta(minutes=30),
            mode="in_person",
        ).pk

    results = race(THREADS, insert)
    assert sum(kind == "ok" for kind, _ in results) == 1
    assert all(is_refusal(exc) for kind, exc in results if kind == "error"), [
        outcome(r) for r in results
    ]
    no_overlaps()


def test_one_patient_booking_one_time_with_many_doctors_gets_one(site):
    """Two browser tabs, many doctors, the same hour: the patient holds one appointment."""
    doctors = [bookable_doctor(site=site) for _ in range(8)]
    patient = make_patient_user()
    start = local(site, days_ahead(3), 11, 30)

    def book(i: int) -> int:
        return services.appointment_book(
            actor=patient.user, practitioner=doctors[i], start=start, mode="video"
        ).pk

    outcomes = Counter(outcome(r) for r in race(len(doctors), book))
    assert outcomes["ok"] == 1, outcomes
    assert set(outcomes) <= {"ok", "taken", "patient_overlap"}, outcomes
    no_overlaps()


def test_one_patient_booking_many_slots_of_a_new_doctor_at_once(doctor, site):
    """Several first bookings with the same doctor at once each create the care relationship
    if none exists: they must all succeed, with one relationship between them."""
    patient = make_patient_user()
    starts = [
        local(site, days_ahead(3 + i // 6), 9, 0) + timedelta(minutes=30 * (i % 6))
        for i in range(12)
    ]

    def book(i: int) -> int:
        return services.appointment_book(
            actor=patient.user, practitioner=doctor, start=starts[i], mode="video"
        ).pk

    outcomes = Counter(outcome(r) for r in race(len(starts), book))
    assert outcomes == {"ok": len(starts)}, outcomes
    assert (
        CareRelationship.objects.filter(
            practitioner=doctor, patient=patient, ended_at__isnull=True
        ).count()
        == 1
    )


def test_reschedules_racing_into_one_slot(doctor, site):
    reception = make_user(Role.RECEPTIONIST)
    patients = [make_patient_user() for _ in range(10)]
    day = days_ahead(7)
    appointments = []
    for i, p in enumerate(patients[:5]):
        appointments.append(
            services.appointment_book(
                actor=p.user,
                practitioner=doctor,
                start=local(site, day, 9, 0) + timedelta(minutes=30 * i),
                mode="in_person",
            )
        )
    target = local(site, days_ahead(8), 10, 0)

    def move(i: int) -> int:
        appointment = Appointment.objects.select_related("practitioner", "patient").get(
            pk=appointments[i].pk
        )
        return services.appointment_reschedule(
            actor=reception, appointment=appointment, start=target
        ).pk

    outcomes = Counter(outcome(r) for r in race(len(appointments), move))
    assert outcomes == {"ok": 1, "taken": len(appointments) - 1}, outcomes
    assert Appointment.objects.filter(start=target).count() == 1
    no_overlaps()


def test_cancel_and_rebook_race_never_double_books(doctor, site):
    """One thread cancels while others try to book the freed time: at most one new booking,
    and never two active appointments at once."""
    holder = make_patient_user()
    start = local(site, days_ahead(3), 9, 0)
    appointment = services.appointment_book(
        actor=holder.user, practitioner=doctor, start=start, mode="in_person"
    )
    others = [make_patient_user() for _ in range(THREADS - 1)]

    def act(i: int) -> int:
        if i == 0:
            row = Appointment.objects.select_related("patient", "practitioner").get(
                pk=appointment.pk
            )
            return services.appointment_cancel(actor=holder.user, appointment=row, reason="x").pk
        return services.appointment_book(
            actor=others[i - 1].user, practitioner=doctor, start=start, mode="in_person"
        ).pk

    results = race(THREADS, act)
    assert results[0][0] == "ok", outcome(results[0])
    outcomes = Counter(outcome(r) for r in results[1:])
    assert outcomes["ok"] <= 1 and set(outcomes) <= {"ok", "taken"}, outcomes
    no_overlaps()


@pytest.mark.skipif(not ON_POSTGRES, reason="the exclusion constraints exist on PostgreSQL only")
def test_postgresql_has_the_exclusion_constraints():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' "
            "AND conrelid = 'scheduling_appointment'::regclass ORDER BY conname"
        )
        names = [row[0] for row in cursor.fetchall()]
    assert names == ["appointment_patient_no_overlap", "appointment_practitioner_no_overlap"]

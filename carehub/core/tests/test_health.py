"""`GET /health/`: 200 with every check ok, 503 naming the failing check."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from carehub.core.tasks import worker_heartbeat
from carehub.core.views import WORKER_STALE_AFTER

pytestmark = pytest.mark.django_db


def test_ok_when_the_database_answers_and_a_worker_ran_the_heartbeat(client):
    worker_heartbeat.enqueue()  # the ImmediateBackend runs it now, as a worker would

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "worker": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_unavailable_naming_the_worker_when_the_heartbeat_is_stale(client):
    worker_heartbeat.enqueue()

    with time_machine.travel(
        timezone.now() + WORKER_STALE_AFTER + timedelta(seconds=5), tick=False
    ):
        response = client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["worker"] == "stale"
    assert body["checks"]["database"] == "ok"


def test_a_recent_heartbeat_is_still_ok_just_before_the_limit(client):
    worker_heartbeat.enqueue()

    with time_machine.travel(
        timezone.now() + WORKER_STALE_AFTER - timedelta(seconds=5), tick=False
    ):
        response = client.get("/health/")

    assert response.status_code == 200


def test_unavailable_when_no_worker_was_ever_seen(client):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "never seen"


def test_is_reachable_for_a_signed_in_staff_member_without_mfa(client):
    from carehub.accounts.tests.factories import make_user

    worker_heartbeat.enqueue()
    client.force_login(make_user("doctor", mfa=False))

    assert client.get("/health/").status_code == 200

"""Periodic jobs. Each entry is enqueued through django.tasks at most once per period; the
`ScheduledRun` row (unique per job and period) keeps several schedulers from doubling up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

TICK_SECONDS = 5.0


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: int
    enqueue: Callable[[], object]


def _heartbeat() -> object:
    from carehub.core.tasks import worker_heartbeat

    return worker_heartbeat.enqueue()


def _prune() -> object:
    from carehub.core.tasks import scheduled_runs_prune

    return scheduled_runs_prune.enqueue()


SCHEDULE: list[Periodic] = [
    Periodic("core.worker_heartbeat", 15, _heartbeat),
    Periodic("core.scheduled_runs_prune", 3600, _prune),
]


def register(periodic: Periodic) -> None:
    SCHEDULE.append(periodic)


def tick(now: float | None = None) -> list[str]:
    from carehub.core.models import ScheduledRun

    now = time.time() if now is None else now
    enqueued = []
    for job in SCHEDULE:
        period = int(now // job.every_seconds)
        try:
            with transaction.atomic():
                ScheduledRun.objects.create(job=job.name, period=period)
                job.enqueue()
        except IntegrityError:
            continue  # another scheduler took this period
        enqueued.append(job.name)
    return enqueued

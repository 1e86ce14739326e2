"""Base models shared by every app."""

from __future__ import annotations

import uuid
from typing import Any, Self

from django.db import models

from carehub.core import policies


class RestrictedQuerySet(models.QuerySet):
    """`Model.objects.restrict(actor, action)`: the rows `actor` may `action`, deny by default."""

    def restrict(self, actor: Any, action: str = "view") -> Self:
        return policies.apply(self, actor, action)


RestrictedManager = models.Manager.from_queryset(RestrictedQuerySet)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class PublicModel(TimeStampedModel):
    """A model whose rows are named outside the database by a UUID, never by the primary key."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    objects = RestrictedManager()

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """Last time a background worker ran the heartbeat job (see core.tasks)."""

    name = models.CharField(max_length=50, unique=True)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} (last seen {self.last_seen})"


class ScheduledRun(models.Model):
    """One enqueued run of a periodic job; unique per period so schedulers never double up."""

    job = models.CharField(max_length=100)
    period = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="scheduled_run_once")]

    def __str__(self) -> str:
        return f"{self.job} (period {self.period})"

"""Jobs of the core app, written against the django.tasks API."""

from django.tasks import task
from django.utils import timezone


@task()
def worker_heartbeat() -> str:
    """Proves a worker is taking jobs: /health/ reports the worker stale when this stops running."""
    from carehub.core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(name="default", defaults={"last_seen": timezone.now()})
    return "ok"


@task()
def scheduled_runs_prune() -> int:
    """Forget scheduler bookkeeping older than a day (it only guards against double enqueues)."""
    from datetime import timedelta

    from carehub.core.models import ScheduledRun

    deleted, _ = ScheduledRun.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=1)
    ).delete()
    return deleted

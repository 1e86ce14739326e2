import pytest

from carehub.core import scheduler
from carehub.core.models import ScheduledRun, WorkerHeartbeat


@pytest.mark.django_db
def test_each_periodic_job_is_enqueued_once_per_period_even_with_two_schedulers():
    now = 1_800_000_000.0
    first = scheduler.tick(now)
    second = scheduler.tick(now + 1)  # a second scheduler (or a second tick) in the same period
    assert "core.worker_heartbeat" in first
    assert second == []
    assert ScheduledRun.objects.filter(job="core.worker_heartbeat").count() == 1


@pytest.mark.django_db
def test_heartbeat_runs_again_in_the_next_period_and_marks_the_worker_alive():
    now = 1_800_000_000.0
    scheduler.tick(now)
    assert scheduler.tick(now + 15) == ["core.worker_heartbeat"]
    # The test settings run tasks immediately, so the heartbeat job has executed.
    assert WorkerHeartbeat.objects.filter(name="default").exists()

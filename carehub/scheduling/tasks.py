"""Background jobs of the scheduling app (django.tasks), and their schedule."""

from __future__ import annotations

from django.tasks import task

from carehub.core import scheduler


@task()
def waitlist_offers_expire() -> int:
    """Close waitlist offers whose hold ran out and offer their slots to the next in line."""
    from carehub.scheduling import services

    return services.offers_expire()


scheduler.register(
    scheduler.Periodic("scheduling.waitlist_offers_expire", 60, waitlist_offers_expire.enqueue)
)

"""Background jobs of the symptom checker (django.tasks), and their schedule."""

from __future__ import annotations

from django.tasks import task

from carehub.core import scheduler


@task()
def anonymous_checks_forget() -> int:
    """Erase what anonymous visitors typed and answered once it is no longer needed."""
    from carehub.triage import services

    return services.anonymous_checks_forget()


scheduler.register(
    scheduler.Periodic("triage.anonymous_checks_forget", 3600, anonymous_checks_forget.enqueue)
)

"""The background worker: runs django.tasks jobs (django-tasks-db) and a small scheduler loop
for periodic jobs, so no operator cron is needed."""

from __future__ import annotations

import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from carehub.core import scheduler


class Command(BaseCommand):
    help = "Run the CareHub background worker (jobs + periodic scheduler)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-scheduler", action="store_true", help="Only run jobs; another worker schedules."
        )
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, **options):
        stop = threading.Event()
        if not options["no_scheduler"]:
            thread = threading.Thread(
                target=self._schedule, args=(stop,), daemon=True, name="scheduler"
            )
            thread.start()
        try:
            call_command(
                "db_worker",
                queue_name="*",
                interval=options["interval"],
                reload=False,
                startup_delay=False,
                verbosity=options["verbosity"],
            )
        finally:
            stop.set()

    def _schedule(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                scheduler.tick()
            except Exception:  # the loop must outlive a bad tick (a locked DB, a lost connection)
                self.stderr.write("scheduler tick failed; retrying")
            finally:
                close_old_connections()
            stop.wait(scheduler.TICK_SECONDS)

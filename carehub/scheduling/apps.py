from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "carehub.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from carehub.audit import capture
        from carehub.scheduling import models, policies, tasks  # noqa: F401

        capture.register(models.Appointment, patient=lambda a: a.patient.public_id)
        capture.register(models.AvailabilityRule)
        capture.register(models.AvailabilityException)
        capture.register(models.WaitlistEntry, patient=lambda e: e.patient.public_id)
        capture.register(models.WaitlistOffer, patient=lambda o: o.entry.patient.public_id)
        capture.register(models.CalendarFeed)

from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "carehub.triage"
    label = "triage"
    verbose_name = "Symptom checker"

    def ready(self) -> None:
        from carehub.audit import capture
        from carehub.triage import checks, models, tasks  # noqa: F401

        capture.register(
            models.TriageSession,
            patient=lambda s: s.patient.public_id if s.patient_id else None,
            # An anonymous check is nobody's record: auditing each answer would only cost time.
            skip=lambda s: s.patient_id is None,
        )

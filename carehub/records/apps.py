from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "carehub.records"
    label = "records"
    verbose_name = "Health records"

    def ready(self) -> None:
        from carehub.audit import capture
        from carehub.records import models, policies  # noqa: F401

        for model in models.CLINICAL_MODELS:
            capture.register(model, patient=lambda e: e.patient.public_id)
        capture.register(models.Amendment, patient=lambda a: a.patient.public_id)

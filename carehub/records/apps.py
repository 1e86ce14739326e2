from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "carehub.records"
    label = "records"
    verbose_name = "Health records"

    def ready(self) -> None:
        from carehub.audit import capture
        from carehub.core import crypto
        from carehub.records import documents, models, policies  # noqa: F401

        for model in models.CLINICAL_MODELS:
            # The document's bytes never go into the audit trail (its SHA-256 does).
            exclude = {"blob"} if model is models.Document else None
            capture.register(model, patient=lambda e: e.patient.public_id, exclude=exclude)
        crypto.register_holder(documents.HOLDER)
        capture.register(models.Amendment, patient=lambda a: a.patient.public_id)

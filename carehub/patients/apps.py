from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "carehub.patients"
    label = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        from carehub.audit import capture
        from carehub.patients import models, policies  # noqa: F401

        capture.register(models.Patient, patient=lambda p: p.public_id)
        capture.register(models.Consent, patient=lambda c: c.patient.public_id)
        capture.register(models.CareRelationship, patient=lambda r: r.patient.public_id)
        capture.register(models.BreakGlassGrant, patient=lambda g: g.patient.public_id)
        capture.register(models.DuplicateCandidate)

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "carehub.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from carehub.audit import capture, policies  # noqa: F401

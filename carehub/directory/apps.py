from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "carehub.directory"
    label = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from carehub.audit import capture
        from carehub.directory import models, policies  # noqa: F401

        for model in (models.Site, models.Department, models.Practitioner):
            capture.register(model)

from django.db import models


class EntryStatus(models.TextChoices):
    """Every clinical entry: current, or marked entered-in-error (never deleted)."""

    CURRENT = "current", "Current"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class EncounterStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    FINISHED = "finished", "Finished"


class EncounterMode(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"


class ClinicalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"


class Criticality(models.TextChoices):
    LOW = "low", "Low"
    HIGH = "high", "High"


class MedicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class Interpretation(models.TextChoices):
    NORMAL = "N", "Normal"
    HIGH = "H", "High"
    LOW = "L", "Low"

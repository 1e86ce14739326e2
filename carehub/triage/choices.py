from django.db import models


class SessionStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class TriageLevel(models.TextChoices):
    EMERGENCY = "emergency", "Emergency"
    URGENT = "urgent", "Urgent (same day)"
    ROUTINE = "routine", "Routine appointment"
    SELF_CARE = "self_care", "Self-care"


class Sex(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Not sure"

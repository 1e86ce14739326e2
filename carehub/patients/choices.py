from django.db import models


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class ConsentKind(models.TextChoices):
    TREATMENT = "treatment", "Consent to treatment"
    DATA_SHARING = "data_sharing", "Sharing records with other care providers"
    RESEARCH = "research", "Use of anonymised data for research"
    EMAIL = "email", "Contact by email"
    SMS = "sms", "Contact by SMS"


class RelationshipSource(models.TextChoices):
    APPOINTMENT = "appointment", "Appointment"
    ASSIGNED = "assigned", "Assigned by staff"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", "To review"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Not a duplicate"


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    NONE = "none", "No reminders"

from django.db import models


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"


class Priority(models.TextChoices):
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class Channel(models.TextChoices):
    PAGE = "page", "Web page"
    API = "api", "API"
    SYSTEM = "system", "System"


class AccessCategory(models.TextChoices):
    """What kind of patient data was read. Later apps add their chart sections here."""

    DEMOGRAPHICS = "demographics", "Demographics"
    IDENTIFIERS = "identifiers", "Identifiers"
    CONSENTS = "consents", "Consents"
    CARE_TEAM = "care_team", "Care team"
    APPOINTMENTS = "appointments", "Appointments"
    TRIAGE = "triage", "Symptom checks"
    PROBLEMS = "problems", "Problem list"
    ALLERGIES = "allergies", "Allergies"
    MEDICATIONS = "medications", "Medications"
    OBSERVATIONS = "observations", "Vital signs and results"
    ENCOUNTERS = "encounters", "Encounters"
    HISTORY = "history", "Record history"
    DOCUMENTS = "documents", "Documents"
    AUDIT = "audit", "Access history"


class Purpose(models.TextChoices):
    CARE = "care", "Care relationship"
    SELF = "self", "Own record"
    ADMINISTRATION = "administration", "Administration"
    BREAK_GLASS = "break_glass", "Break-glass (emergency access)"

from django.db import models


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    DOCTOR = "doctor", "Doctor"
    NURSE = "nurse", "Nurse"
    RECEPTIONIST = "receptionist", "Receptionist"
    CLINIC_ADMIN = "clinic_admin", "Clinic administrator"
    AUDITOR = "auditor", "Auditor"


STAFF_ROLES = frozenset(r for r in Role if r != Role.PATIENT)
CLINICIAN_ROLES = frozenset({Role.DOCTOR, Role.NURSE})

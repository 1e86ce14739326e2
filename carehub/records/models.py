"""Health records, FHIR-shaped: Encounter, ClinicalNote, Observation, Condition,
AllergyIntolerance and MedicationRequest, plus the Amendment that keeps every earlier version.

Clinical entries are never deleted or overwritten silently: a correction goes through
`services.entry_amend`, which stores the previous version (encrypted) with who, when and why,
and a wrong entry is marked `entered_in_error`. Free text is encrypted at rest; codes, numbers
and dates stay in plain columns so the chart can filter and sort in SQL."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from carehub.core.fields import EncryptedTextField
from carehub.core.models import PublicModel
from carehub.records.choices import (
    ClinicalStatus,
    Criticality,
    EncounterMode,
    EncounterStatus,
    EntryStatus,
    Interpretation,
    MedicationStatus,
)


class ClinicalEntry(PublicModel):
    """What every clinical entry has: its patient, who recorded it, a status and a version."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=EntryStatus.choices, default=EntryStatus.CURRENT
    )
    version = models.PositiveIntegerField(default=1)

    # Fields an amendment may change (the rest is identity and bookkeeping).
    AMENDABLE: tuple[str, ...] = ()

    class Meta:
        abstract = True


class Encounter(ClinicalEntry):
    """A visit: in person or by video, usually from an appointment."""

    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="+"
    )
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="encounter",
    )
    mode = models.CharField(max_length=10, choices=EncounterMode.choices)
    state = models.CharField(
        max_length=12, choices=EncounterStatus.choices, default=EncounterStatus.IN_PROGRESS
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = EncryptedTextField(blank=True)

    AMENDABLE = ("reason",)

    class Meta:
        indexes = [models.Index(fields=["patient", "-started_at"], name="encounter_patient_time")]


class ClinicalNote(ClinicalEntry):
    """A SOAP note written during an encounter."""

    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="notes")
    subjective = EncryptedTextField(blank=True)
    objective = EncryptedTextField(blank=True)
    assessment = EncryptedTextField(blank=True)
    plan = EncryptedTextField(blank=True)

    AMENDABLE = ("subjective", "objective", "assessment", "plan")


class Observation(ClinicalEntry):
    """A measured value: a vital sign or a lab result, with unit and reference range."""

    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="observations"
    )
    code = models.CharField(max_length=20, help_text="LOINC code, e.g. 8867-4 (heart rate).")
    display = models.CharField(max_length=120)
    value = models.DecimalField(max_digits=10, decimal_places=3)
    unit = models.CharField(max_length=20)
    reference_low = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    interpretation = models.CharField(
        max_length=1, choices=Interpretation.choices, default=Interpretation.NORMAL
    )
    effective_at = models.DateTimeField()

    AMENDABLE = ("value", "unit", "reference_low", "reference_high", "interpretation")

    class Meta:
        indexes = [
            models.Index(fields=["patient", "code", "-effective_at"], name="obs_patient_code_time")
        ]


class Condition(ClinicalEntry):
    """A problem-list entry with its ICD-10 code."""

    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="conditions"
    )
    code = models.CharField(max_length=10, help_text="ICD-10 code, e.g. I10.")
    display = models.CharField(max_length=200)
    clinical_status = models.CharField(
        max_length=10, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE
    )
    onset_date = models.DateField(null=True, blank=True)
    note = EncryptedTextField(blank=True)

    AMENDABLE = ("code", "display", "clinical_status", "onset_date", "note")


class AllergyIntolerance(ClinicalEntry):
    """A substance the patient must not be given, and what it does to them."""

    substance = models.CharField(max_length=120)
    reaction = EncryptedTextField(blank=True)
    criticality = models.CharField(
        max_length=4, choices=Criticality.choices, default=Criticality.LOW
    )

    AMENDABLE = ("substance", "reaction", "criticality")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(substance=""), name="allergy_substance_set")
        ]


class MedicationRequest(ClinicalEntry):
    """A prescription: drug, strength, dose, route, structured times, duration, refills."""

    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="prescriptions"
    )
    drug = models.CharField(max_length=120)
    strength = models.CharField(max_length=40)
    dose = models.CharField(max_length=40)
    route = models.CharField(max_length=20, default="oral")
    times = models.JSONField(default=list, help_text='Times of day, e.g. ["08:00", "20:00"].')
    duration_days = models.PositiveIntegerField()
    refills = models.PositiveSmallIntegerField(default=0)
    instructions = EncryptedTextField(blank=True)
    medication_status = models.CharField(
        max_length=10, choices=MedicationStatus.choices, default=MedicationStatus.ACTIVE
    )
    start_date = models.DateField()

    AMENDABLE = ("dose", "times", "duration_days", "refills", "instructions", "medication_status")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(duration_days__gte=1), name="rx_duration_positive")
        ]


class Document(ClinicalEntry):
    """An uploaded PDF or image, stored encrypted in the database with the SHA-256 of its
    plaintext, checked on every download."""

    title = models.CharField(max_length=200)
    filename = EncryptedTextField()  # a file name can say what the patient has
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    blob = models.BinaryField()  # ch1:<kid>:<nonce+ciphertext> (core.crypto.encrypt_bytes)

    AMENDABLE = ("title",)

    class Meta:
        indexes = [models.Index(fields=["patient", "-created_at"], name="document_patient_time")]
        constraints = [models.CheckConstraint(condition=Q(size__gt=0), name="document_not_empty")]


class Amendment(PublicModel):
    """The version of an entry before a change, kept for ever with who changed it and why."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    entry_model = models.CharField(max_length=60)  # "records.clinicalnote"
    entry_id = models.UUIDField()  # the entry's public id
    version = models.PositiveIntegerField()  # the version that was replaced
    previous = EncryptedTextField()  # JSON of the amendable fields before the change
    reason = models.CharField(max_length=300)
    amended_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry_model", "entry_id", "version"], name="amendment_once_per_version"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="amendment_has_reason"),
        ]


CLINICAL_MODELS: tuple[type[ClinicalEntry], ...] = (
    Encounter,
    ClinicalNote,
    Observation,
    Condition,
    AllergyIntolerance,
    MedicationRequest,
    Document,
)

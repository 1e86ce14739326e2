"""The patient master record, its care team, break-glass grants and duplicate candidates."""

from __future__ import annotations

from django.conf import global_settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from carehub.core.fields import EncryptedTextField
from carehub.core.models import PublicModel, RestrictedManager, TimeStampedModel
from carehub.patients.choices import (
    ConsentKind,
    ContactChannel,
    DuplicateStatus,
    RelationshipSource,
    Sex,
)


class Patient(PublicModel):
    """A person who receives care. One row per person; duplicates are merged, never deleted."""

    user = models.OneToOneField(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="patient"
    )
    site = models.ForeignKey("directory.Site", on_delete=models.PROTECT, related_name="+")
    mrn = models.CharField("medical record number", max_length=32, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    preferred_language = models.CharField(max_length=8, default="en")
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    emergency_contact_relation = models.CharField(max_length=50, blank=True)
    reminder_channel = models.CharField(
        max_length=10, choices=ContactChannel.choices, default=ContactChannel.EMAIL
    )
    national_id = EncryptedTextField(blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_records"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["birth_date", "family_name"], name="patient_dob_family"),
            models.Index(fields=["email"], name="patient_email"),
            models.Index(fields=["phone"], name="patient_phone"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def preferred_language_display(self) -> str:
        """'fr' -> 'French' (the code itself when Django does not know it)."""
        return str(
            dict(global_settings.LANGUAGES).get(self.preferred_language, self.preferred_language)
        )


class MrnSequence(models.Model):
    """The next medical record number of a site; the row is locked while a number is taken."""

    site = models.OneToOneField("directory.Site", on_delete=models.CASCADE, related_name="+")
    next_value = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"next MRN {self.next_value} of site {self.site_id}"


class Consent(TimeStampedModel):
    """A patient's current answer for one kind of consent; changes are kept in the audit trail."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    granted = models.BooleanField()
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )

    # `Consent.objects.restrict(actor, action)`: the rule is in policies.py (through the patient).
    objects = RestrictedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "kind"], name="consent_one_per_kind")
        ]


class CareRelationship(PublicModel):
    """A practitioner looks after a patient: what lets a clinician open the record."""

    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="care_relationships"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="care_relationships"
    )
    source = models.CharField(max_length=20, choices=RelationshipSource.choices)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "patient"],
                condition=Q(ended_at__isnull=True),
                name="care_relationship_one_active",
            )
        ]


class BreakGlassGrant(PublicModel):
    """Emergency access by a clinician without a care relationship, limited in time."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    reason = models.TextField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "patient", "expires_at"], name="breakglass_lookup")]


class DuplicateCandidate(PublicModel):
    """Two patient records that may be the same person, waiting for an administrator."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    other = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reasons = models.JSONField(default=list)
    score = models.FloatField()
    status = models.CharField(
        max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN
    )
    resolved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "other"], name="duplicate_pair_unique"),
            models.CheckConstraint(
                condition=~Q(patient=models.F("other")), name="duplicate_not_self"
            ),
        ]

"""Symptom-checker sessions: what was reported, what was asked and answered, and the result.

The patient's words and answers are clinical content, so they are encrypted at rest; the triage
level, specialty and timestamps stay in plain columns for the usage analytics, which never need
the content."""

from __future__ import annotations

import json
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from carehub.core.fields import EncryptedTextField
from carehub.core.models import PublicModel
from carehub.triage.choices import SessionStatus, Sex, TriageLevel


class TriageSession(PublicModel):
    """One run of the symptom checker, anonymous or linked to the patient who was signed in."""

    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    age = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(120)],
    )
    sex = models.CharField(max_length=6, choices=Sex.choices)
    # {"text": "...", "initial": {finding: bool}, "answers": [[finding, answer], ...]}
    content = EncryptedTextField()
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.IN_PROGRESS
    )
    question = models.CharField(max_length=64, blank=True)  # the finding asked now
    questions_asked = models.PositiveSmallIntegerField(default=0)
    triage = models.CharField(max_length=10, choices=TriageLevel.choices, blank=True)
    specialty = models.CharField(max_length=64, blank=True)
    result = EncryptedTextField(blank=True)  # the RESULT JSON shown to the patient
    kb_version = models.CharField(max_length=32)
    finished_at = models.DateTimeField(null=True, blank=True)
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triage_session",
    )

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="triage_session_created")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="in_progress", triage="") | Q(status="done") & ~Q(triage=""),
                name="triage_done_has_level",
            ),
            models.CheckConstraint(
                condition=Q(age__gte=0) & Q(age__lte=120), name="triage_age_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Symptom check {self.public_id}"

    @property
    def forgotten(self) -> bool:
        """An anonymous check whose content was erased after the retention period."""
        return not self.content

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.content) if self.content and not self.forgotten else {}

    @property
    def result_data(self) -> dict[str, Any] | None:
        return json.loads(self.result) if self.result else None

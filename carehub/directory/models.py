"""Where care happens and who gives it: sites, departments, specialties, practitioners."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models

from carehub.core.models import PublicModel


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/London).")


class Site(PublicModel):
    """A clinic or hospital location with its own time zone and emergency number."""

    code = models.SlugField(
        max_length=12, unique=True, help_text="Short code used in record numbers"
    )
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    emergency_phone = models.CharField(max_length=32)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # Booking rules of the site (scheduling reads them through directory.selectors).
    booking_min_notice_minutes = models.PositiveIntegerField(
        default=60, help_text="How long before its start an appointment can still be booked."
    )
    cancellation_cutoff_minutes = models.PositiveIntegerField(
        default=120,
        help_text="Patients can cancel or reschedule online until this long before the start.",
    )
    booking_horizon_days = models.PositiveIntegerField(
        default=90, help_text="How far ahead patients can book."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(PublicModel):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="departments")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="department_unique_per_site")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.site})"


class Specialty(models.Model):
    """A specialty code from the shared vocabulary (carehub/directory/data/specialties.json)."""

    code = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)

    class Meta:
        ordering = ["label"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        return self.label


class Practitioner(PublicModel):
    """A clinician's professional profile; the login is the linked user."""

    user = models.OneToOneField(
        "accounts.User", on_delete=models.PROTECT, related_name="practitioner"
    )
    title = models.CharField(max_length=20, blank=True, help_text="e.g. Dr")
    specialties = models.ManyToManyField(Specialty, related_name="practitioners")
    sites = models.ManyToManyField(Site, related_name="practitioners")
    departments = models.ManyToManyField(Department, related_name="practitioners", blank=True)
    languages = models.JSONField(default=list, blank=True, help_text="ISO 639-1 codes")
    bio = models.TextField(blank=True, max_length=2000)
    photo = models.ImageField(upload_to="practitioners/", blank=True)
    registration_number = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return f"{self.title} {self.user.get_full_name()}".strip()

    @property
    def display_name(self) -> str:
        return str(self)

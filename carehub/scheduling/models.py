"""Availability (weekly rules and dated exceptions), appointments, the waitlist and its offers,
and private calendar feeds.

Times are stored in UTC. Rules are wall-clock times in their site's time zone, so a 09:00 rule
stays 09:00 across daylight-saving changes. Two active appointments of one practitioner (or of
one patient) cannot overlap: migration 0002 installs an exclusion constraint on PostgreSQL and
triggers on SQLite that refuse the write whatever the application does."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from carehub.core.fields import EncryptedTextField
from carehub.core.models import PublicModel, RestrictedManager, TimeStampedModel
from carehub.scheduling.choices import (
    WEEKDAYS,
    ExceptionKind,
    Mode,
    OfferStatus,
    RuleMode,
    Status,
    WaitlistStatus,
)


class AvailabilityRule(PublicModel):
    """Every `weekday`, from `start_time` to `end_time` (site local time), slots of
    `slot_minutes`, between optional `valid_from` and `valid_until` dates."""

    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="availability_rules"
    )
    site = models.ForeignKey("directory.Site", on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start_time = models.TimeField()
    end_time = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    mode = models.CharField(max_length=10, choices=RuleMode.choices, default=RuleMode.BOTH)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=F("end_time")), name="rule_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5) & Q(slot_minutes__lte=240),
                name="rule_slot_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lte=F("valid_until")),
                name="rule_valid_range",
            ),
        ]
        indexes = [models.Index(fields=["practitioner", "weekday"], name="rule_practitioner_day")]


class AvailabilityException(PublicModel):
    """A dated change to the weekly rules: leave, a holiday or blocked hours remove slots; an
    extra session adds them. `site` empty means every site of the practitioner."""

    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="availability_exceptions"
    )
    site = models.ForeignKey(
        "directory.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ExceptionKind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    slot_minutes = models.PositiveSmallIntegerField(null=True, blank=True)  # extra sessions only
    mode = models.CharField(max_length=10, choices=RuleMode.choices, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="exception_start_before_end"
            ),
            models.CheckConstraint(
                condition=~Q(kind=ExceptionKind.EXTRA)
                | (Q(slot_minutes__gte=5) & Q(slot_minutes__lte=240) & Q(site__isnull=False)),
                name="exception_extra_has_slots",
            ),
        ]
        indexes = [
            models.Index(
                fields=["practitioner", "start", "end"], name="exception_practitioner_time"
            )
        ]


class Appointment(PublicModel):
    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="appointments"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("directory.Site", on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=Mode.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    reason = EncryptedTextField(blank=True)  # the patient's words: clinical content
    booked_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.CharField(max_length=300, blank=True)
    reschedule_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="appointment_start_before_end"
            ),
        ]
        indexes = [
            models.Index(fields=["practitioner", "start"], name="appointment_practitioner_start"),
            models.Index(fields=["patient", "start"], name="appointment_patient_start"),
            models.Index(fields=["site", "start"], name="appointment_site_start"),
        ]

    @property
    def is_active(self) -> bool:
        return self.status in {Status.BOOKED, Status.CHECKED_IN, Status.IN_PROGRESS}


class WaitlistEntry(PublicModel):
    """A patient waits for a slot with one practitioner, or any of a specialty, between two
    dates. First come, first offered."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    practitioner = models.ForeignKey(
        "directory.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    specialty = models.ForeignKey(
        "directory.Specialty", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    site = models.ForeignKey(
        "directory.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, blank=True)
    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(
        max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(practitioner__isnull=False) | Q(specialty__isnull=False),
                name="waitlist_practitioner_or_specialty",
            ),
            models.CheckConstraint(
                condition=Q(date_from__lte=F("date_to")), name="waitlist_date_range"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="waitlist_status_created")]


class WaitlistOffer(PublicModel):
    """A freed slot held for one waitlist entry until `expires_at`. While open, nobody else can
    book it; declined or expired, it passes to the next entry in line."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="+"
    )
    site = models.ForeignKey("directory.Site", on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=Mode.choices)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["start"]
        constraints = [
            # One open offer per slot start of a practitioner: a slot is held for one patient.
            models.UniqueConstraint(
                fields=["practitioner", "start"],
                condition=Q(status=OfferStatus.OPEN),
                name="offer_one_open_per_slot",
            ),
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(status=OfferStatus.OPEN),
                name="offer_one_open_per_entry",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="offer_status_expiry")]


class CalendarFeed(TimeStampedModel):
    """A private, revocable ICS feed of a practitioner's appointments. Only a SHA-256 of the
    token is stored; the URL is shown once, when the feed is created."""

    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.PROTECT, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedManager()

"""Scheduling API representations. Rules live in services; these type the input and shape the
output. Times are ISO 8601 with the site's UTC offset."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from carehub.scheduling import selectors
from carehub.scheduling.choices import Mode, Status


def _local(moment, tz_name: str) -> str:
    return moment.astimezone(selectors.engine.zone(tz_name)).isoformat()


def appointment_json(appointment, actor) -> dict[str, Any]:
    """An appointment as the API returns it. The reason for the visit is shown to the patient
    and clinicians only (see selectors.can_read_reason)."""
    tz_name = appointment.site.timezone
    data: dict[str, Any] = {
        "id": str(appointment.public_id),
        "status": appointment.status,
        "start": _local(appointment.start, tz_name),
        "end": _local(appointment.end, tz_name),
        "mode": appointment.mode,
        "practitioner": str(appointment.practitioner.public_id),
        "practitioner_name": appointment.practitioner.display_name,
        "patient": str(appointment.patient.public_id),
        "site": str(appointment.site.public_id),
        "site_name": appointment.site.name,
        "cancel_reason": appointment.cancel_reason,
    }
    if selectors.can_read_reason(actor, appointment):
        data["reason"] = appointment.reason
    return data


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with its UTC offset. A time without one would be read in the server's zone
    (UTC), not the site's, and could book another hour than the client meant: refused."""

    default_error_messages = {
        "naive": "Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+01:00."
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    mode = serializers.ChoiceField(choices=Mode.choices)
    site = serializers.UUIDField()


class AppointmentSerializer(serializers.Serializer):
    """Schema only (responses are built by `appointment_json`)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Status.choices)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    mode = serializers.ChoiceField(choices=Mode.choices)
    practitioner = serializers.UUIDField()
    practitioner_name = serializers.CharField()
    patient = serializers.UUIDField()
    site = serializers.UUIDField()
    site_name = serializers.CharField()
    cancel_reason = serializers.CharField()
    reason = serializers.CharField(required=False, help_text="Patient and clinicians only")


class PractitionerSlotSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="practitioner.public_id")
    name = serializers.CharField(source="practitioner.display_name")
    specialties = serializers.SerializerMethodField()
    languages = serializers.ListField(
        source="practitioner.languages", child=serializers.CharField()
    )
    next_slot = serializers.SerializerMethodField()

    def get_specialties(self, option) -> list[str]:
        return [s.code for s in option.practitioner.specialties.all()]

    def get_next_slot(self, option) -> dict | None:
        slot = option.next_slot
        if slot is None:
            return None
        site = next((s for s in option.practitioner.sites.all() if s.pk == slot.site_id), None)
        tz_name = site.timezone if site else "UTC"
        return {
            "start": _local(slot.start, tz_name),
            "end": _local(slot.end, tz_name),
            "modes": list(slot.modes),
            "site": str(site.public_id) if site else None,
        }


class SlotQuerySerializer(serializers.Serializer):
    from_ = serializers.DateField(required=True)
    to = serializers.DateField(required=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class BookSerializer(serializers.Serializer):
    practitioner = serializers.UUIDField()
    start = AwareDateTimeField(help_text="ISO 8601 with UTC offset")
    mode = serializers.ChoiceField(choices=Mode.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    patient = serializers.UUIDField(required=False, help_text="Staff only: the patient's public id")


class RescheduleSerializer(serializers.Serializer):
    start = AwareDateTimeField(help_text="ISO 8601 with UTC offset")
    mode = serializers.ChoiceField(choices=Mode.choices, required=False)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[Status.CHECKED_IN, Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW]
    )

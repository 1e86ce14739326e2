"""Patient API representations. Field rules live in services; these only type the input."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from carehub.directory import selectors as directory
from carehub.patients.models import Patient
from carehub.patients.services import DEMOGRAPHIC_FIELDS

FIELDS: tuple[str, ...] = ("id", "mrn", *DEMOGRAPHIC_FIELDS, "site")


class PatientSerializer(serializers.ModelSerializer):
    """A patient record. `national_id` is write-only: stored encrypted, never read back."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    site = serializers.SlugRelatedField(
        slug_field="public_id", queryset=directory.site_choices(), help_text="Public id of the site"
    )
    national_id = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Optional national identifier; stored encrypted and never returned.",
    )

    class Meta:
        model = Patient
        fields = FIELDS
        read_only_fields = ("mrn",)

    def validate_country(self, value: str) -> str:
        if value and not (len(value) == 2 and value.isalpha()):
            raise serializers.ValidationError("Use a two-letter ISO 3166-1 country code.")
        return value.upper()


class PatientCreatedSerializer(PatientSerializer):
    possible_duplicates = serializers.IntegerField(
        read_only=True,
        help_text="Existing records flagged as possibly the same person, for an administrator.",
    )

    class Meta(PatientSerializer.Meta):
        fields = (*FIELDS, "possible_duplicates")


class PatientUpdateSerializer(PatientSerializer):
    """PATCH body: any demographic field; a patient only their contact details (else 403)."""

    site = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    FIXED = ("id", "mrn", "site")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = [name for name in self.FIXED if name in self.initial_data]
        if fixed:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed."] for name in fixed}
            )
        return attrs

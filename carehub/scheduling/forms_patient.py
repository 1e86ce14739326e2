"""Forms of the patient scheduling pages: they parse and type the input; the booking rules live
in services (a slot that is gone comes back as `SlotUnavailable`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from django import forms
from django.conf import global_settings

from carehub.core.exceptions import ServiceError
from carehub.scheduling.choices import Mode
from carehub.scheduling.forms_staff import EARLIEST, IN_RANGE, LATEST
from carehub.scheduling.services import MAX_REASON

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
LANGUAGE_NAMES = {code: str(name) for code, name in global_settings.LANGUAGES}
ANY_MODE = [("", "In person or video"), *Mode.choices]


def apply_service_error(form: forms.Form, exc: ServiceError) -> None:
    """A service refusal on the form: field errors next to their fields, the rest on top."""
    placed = False
    for name, messages in exc.field_errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class IsoDateTimeField(forms.CharField):
    """An ISO 8601 time with its UTC offset (as the slot links carry it), returned in UTC."""

    default_error_messages = {"invalid": "Choose a time from the list."}

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "+"))
            if parsed.tzinfo is None or not EARLIEST.year <= parsed.year <= LATEST.year:
                raise ValueError("no offset, or out of range")
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class BookingFilterForm(forms.Form):
    """Step 2 filters (GET). Choices come from the specialty's practitioners."""

    site = forms.ChoiceField(required=False, label="Site")
    mode = forms.ChoiceField(required=False, choices=ANY_MODE, label="Type of visit")
    language = forms.ChoiceField(required=False, label="Language spoken")
    date = forms.DateField(
        validators=IN_RANGE, required=False, label="From date", widget=DATE_WIDGET
    )

    def __init__(self, *args: Any, sites=(), languages=(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites = {str(s.public_id): s for s in sites}
        site_field = cast(forms.ChoiceField, self.fields["site"])
        site_field.choices = [("", "Any site"), *((k, s.name) for k, s in self.sites.items())]
        language_field = cast(forms.ChoiceField, self.fields["language"])
        language_field.choices = [
            ("", "Any language"),
            *((code, LANGUAGE_NAMES.get(code, code)) for code in languages),
        ]

    def filters(self) -> dict[str, Any]:
        """The valid filters as `selectors.booking_search` takes them (invalid ones dropped)."""
        self.is_valid()  # an invalid field is left out of cleaned_data; the others apply
        data = getattr(self, "cleaned_data", {})
        return {
            "site": self.sites.get(data.get("site") or ""),
            "mode": data.get("mode") or None,
            "language": data.get("language") or "",
            "day": data.get("date"),
        }


class ConfirmForm(forms.Form):
    """Step 3: the chosen slot (hidden), the type of visit and, for patients, the reason."""

    practitioner = forms.UUIDField(widget=forms.HiddenInput)
    start = IsoDateTimeField(widget=forms.HiddenInput)
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)
    mode = forms.ChoiceField(
        choices=Mode.choices,
        widget=forms.RadioSelect,
        label="Type of visit",
        initial=Mode.IN_PERSON,
    )
    reason = forms.CharField(
        required=False,
        max_length=MAX_REASON,
        label="Reason for the visit",
        help_text="Optional. Only you and the clinicians looking after you can read it.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, modes=(), with_reason: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mode_field = cast(forms.ChoiceField, self.fields["mode"])
        choices = [(m, Mode(m).label) for m in modes or Mode.values]
        mode_field.choices = choices
        if len(choices) == 1:  # nothing to choose: carried, not asked
            mode_field.widget = forms.HiddenInput()
        if not with_reason:
            del self.fields["reason"]


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Why are you cancelling?",
        help_text="At most 300 characters. The clinic sees this.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RescheduleFilterForm(forms.Form):
    date = forms.DateField(
        validators=IN_RANGE, required=False, label="From date", widget=DATE_WIDGET
    )
    mode = forms.ChoiceField(required=False, choices=Mode.choices, label="Type of visit")


class RescheduleForm(forms.Form):
    start = IsoDateTimeField()
    mode = forms.ChoiceField(choices=Mode.choices)


class WaitlistJoinForm(forms.Form):
    """Join the waitlist for one practitioner, or any practitioner of a specialty."""

    practitioner = forms.ChoiceField(required=False, label="Practitioner")
    specialty = forms.ChoiceField(required=False, label="Or any practitioner of")
    date_from = forms.DateField(validators=IN_RANGE, label="From", widget=DATE_WIDGET)
    date_to = forms.DateField(
        validators=IN_RANGE, label="Until", widget=DATE_WIDGET, help_text="At most 120 days."
    )
    site = forms.ChoiceField(required=False, label="Site")
    mode = forms.ChoiceField(required=False, choices=ANY_MODE, label="Type of visit")

    def __init__(
        self, *args: Any, practitioners=(), specialties=(), sites=(), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.practitioners = {str(p.public_id): p for p in practitioners}
        self.specialties = {s.code: s for s in specialties}
        self.sites = {str(s.public_id): s for s in sites}
        cast(forms.ChoiceField, self.fields["practitioner"]).choices = [
            ("", "Any practitioner"),
            *((k, self._label(p)) for k, p in self.practitioners.items()),
        ]
        cast(forms.ChoiceField, self.fields["specialty"]).choices = [
            ("", "Choose a specialty"),
            *((k, s.label) for k, s in self.specialties.items()),
        ]
        cast(forms.ChoiceField, self.fields["site"]).choices = [
            ("", "Any site"),
            *((k, s.name) for k, s in self.sites.items()),
        ]

    @staticmethod
    def _label(practitioner) -> str:
        specialties = ", ".join(s.label for s in practitioner.specialties.all())
        name = practitioner.display_name
        return f"{name} ({specialties})" if specialties else name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("practitioner") and not data.get("specialty"):
            self.add_error("specialty", "Choose a practitioner or a specialty.")
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        practitioner = self.practitioners.get(data.get("practitioner") or "")
        return {
            "practitioner": practitioner,
            "specialty": None if practitioner else self.specialties.get(data["specialty"]),
            "site": self.sites.get(data.get("site") or ""),
            "mode": data.get("mode") or "",
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }

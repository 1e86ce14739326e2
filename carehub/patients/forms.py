"""Forms of the patient pages: they parse and type the input; the rules live in services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import global_settings
from django.core.validators import RegexValidator

from carehub.core.exceptions import ServiceError
from carehub.core.widgets import FastSelect
from carehub.patients import services
from carehub.patients.choices import ConsentKind, ContactChannel, Sex

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Plain strings (not lazy translations): the list is rendered on every patient form.
LANGUAGE_CHOICES = sorted(
    ((code, str(name)) for code, name in global_settings.LANGUAGES if len(code) <= 8),
    key=lambda c: c[1],
)


def apply_service_error(form: forms.Form, exc: ServiceError) -> None:
    """Show a service refusal on the form: field errors next to their fields, the rest on top."""
    placed = False
    for name, messages in exc.field_errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _keep_current_language(form: forms.Form) -> None:
    """A language recorded elsewhere (API, import) stays selectable on the edit forms."""
    current = form.initial.get("preferred_language")
    field = cast(forms.ChoiceField, form.fields["preferred_language"])
    choices = list(LANGUAGE_CHOICES)
    if current and current not in dict(choices):
        field.choices = [(current, current), *choices]


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Name, MRN, email or phone",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class _DemographicsForm(forms.Form):
    """The fields reception records about a patient (services.DEMOGRAPHIC_FIELDS)."""

    given_name = forms.CharField(
        max_length=100, label="Given name", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    family_name = forms.CharField(
        max_length=100, label="Family name", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    birth_date = forms.DateField(label="Date of birth", widget=DATE_WIDGET)
    sex = forms.ChoiceField(choices=Sex.choices, initial=Sex.UNKNOWN)
    phone = forms.CharField(
        max_length=32,
        required=False,
        label="Phone",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(
        required=False, label="Email", widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    address_line = forms.CharField(max_length=200, required=False, label="Address")
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False, label="Postal code")
    country = forms.CharField(
        max_length=2,
        required=False,
        label="Country code",
        help_text="Two letters, e.g. GB, FR, KE.",
        validators=[RegexValidator(r"^[A-Za-z]{2}$", "Enter a two-letter country code.")],
    )
    preferred_language = forms.ChoiceField(
        choices=LANGUAGE_CHOICES, initial="en", label="Preferred language", widget=FastSelect
    )
    emergency_contact_name = forms.CharField(
        max_length=200, required=False, label="Emergency contact name"
    )
    emergency_contact_phone = forms.CharField(
        max_length=32,
        required=False,
        label="Emergency contact phone",
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    emergency_contact_relation = forms.CharField(
        max_length=50,
        required=False,
        label="Emergency contact relationship",
        help_text="e.g. partner, parent, friend.",
    )
    reminder_channel = forms.ChoiceField(
        choices=ContactChannel.choices, initial=ContactChannel.EMAIL, label="Reminders by"
    )
    national_id = forms.CharField(
        max_length=64,
        required=False,
        label="National id number",
        help_text="Optional. Stored encrypted; shown to staff only as its last 3 characters.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _keep_current_language(self)

    def clean_country(self) -> str:
        return self.cleaned_data["country"].upper()

    def clean_national_id(self) -> str:
        return "".join(self.cleaned_data["national_id"].split()).upper()

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k in services.DEMOGRAPHIC_FIELDS}


class PatientRegisterForm(_DemographicsForm):
    site: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, to_field_name="public_id", label="Site", empty_label=None
    )
    confirm_not_duplicate = forms.BooleanField(
        required=False,
        label="These are different people — register anyway",
    )
    # The possible duplicates the receptionist was shown: a confirmation covers only those.
    seen_matches = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def clean_seen_matches(self) -> set[str]:
        return {
            part.strip() for part in self.cleaned_data["seen_matches"].split(",") if part.strip()
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from carehub.directory import selectors as directory

        cast(forms.ModelChoiceField, self.fields["site"]).queryset = directory.site_choices()

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if not data.get("national_id"):
            data.pop("national_id", None)
        return data


class PatientEditForm(_DemographicsForm):
    """Reception's edit form. The national id is never sent back to the browser: a blank field
    keeps the stored one."""

    national_id = forms.CharField(
        max_length=64,
        required=False,
        label="New national id number",
        help_text="Leave blank to keep the current one. Stored encrypted.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    clear_national_id = forms.BooleanField(required=False, label="Remove the national id number")

    @classmethod
    def initial_for(cls, patient) -> dict[str, Any]:
        return {
            name: getattr(patient, name)
            for name in services.DEMOGRAPHIC_FIELDS
            if name != "national_id"
        }

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if self.cleaned_data.get("clear_national_id"):
            data["national_id"] = ""
        elif not data.get("national_id"):
            data.pop("national_id", None)
        return data


class SelfServiceForm(forms.Form):
    """What a patient may change about themselves (services.SELF_SERVICE_FIELDS)."""

    phone = _DemographicsForm.base_fields["phone"]
    address_line = _DemographicsForm.base_fields["address_line"]
    city = _DemographicsForm.base_fields["city"]
    postal_code = _DemographicsForm.base_fields["postal_code"]
    country = _DemographicsForm.base_fields["country"]
    preferred_language = _DemographicsForm.base_fields["preferred_language"]
    emergency_contact_name = _DemographicsForm.base_fields["emergency_contact_name"]
    emergency_contact_phone = _DemographicsForm.base_fields["emergency_contact_phone"]
    emergency_contact_relation = _DemographicsForm.base_fields["emergency_contact_relation"]
    reminder_channel = forms.ChoiceField(
        choices=ContactChannel.choices,
        label="Send my appointment reminders by",
        widget=forms.RadioSelect,
    )

    clean_country = _DemographicsForm.clean_country

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _keep_current_language(self)

    @classmethod
    def initial_for(cls, patient) -> dict[str, Any]:
        return {name: getattr(patient, name) for name in services.SELF_SERVICE_FIELDS}

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k in services.SELF_SERVICE_FIELDS}


class ConsentForm(forms.Form):
    """One checkbox per kind of consent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in ConsentKind.choices:
            self.fields[kind] = forms.BooleanField(required=False, label=label)

    @classmethod
    def initial_for(cls, rows) -> dict[str, bool]:
        return {row.kind: bool(row.granted) for row in rows}


class AssignPractitionerForm(forms.Form):
    practitioner: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None,
        to_field_name="public_id",
        label="Add a practitioner to the care team",
        empty_label="Choose a practitioner",
    )

    def __init__(self, *args: Any, actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from carehub.directory import selectors as directory

        field = cast(forms.ModelChoiceField, self.fields["practitioner"])
        field.queryset = (
            directory.practitioner_list(actor=actor)
            .filter(user__is_active=True)
            .prefetch_related(None)
            .prefetch_related("specialties")
        )
        field.label_from_instance = self._label  # type: ignore[method-assign,assignment]

    @staticmethod
    def _label(practitioner) -> str:
        specialties = ", ".join(s.label for s in practitioner.specialties.all())
        return (
            f"{practitioner.display_name} ({specialties})"
            if specialties
            else practitioner.display_name
        )


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label="Reason for emergency access",
        max_length=2000,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="At least 10 characters: what the emergency is and why you need this record now.",
    )


class MergeForm(forms.Form):
    survivor = forms.UUIDField(widget=forms.HiddenInput)
    duplicate = forms.UUIDField(widget=forms.HiddenInput)

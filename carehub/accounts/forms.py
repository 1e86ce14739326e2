"""Forms of the accounts app."""

from __future__ import annotations

from django import forms

from carehub.core.exceptions import ServiceError
from carehub.patients.choices import Sex

# Sign-up field -> patient record field.
_PATIENT_FIELDS = {
    "first_name": "given_name",
    "last_name": "family_name",
    "birth_date": "birth_date",
    "sex": "sex",
    "phone": "phone",
}


class PatientSignupForm(forms.Form):
    """Extra sign-up fields: what a clinic needs to open a patient record."""

    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    birth_date = forms.DateField(
        label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})
    )
    sex = forms.ChoiceField(label="Sex", choices=Sex.choices)
    phone = forms.CharField(label="Mobile phone", max_length=32, required=False)
    site: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Your clinic", queryset=None, empty_label=None
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from carehub.directory import selectors as directory

        self.fields["site"].queryset = directory.site_choices()

    def clean(self):
        from carehub.patients import services as patients

        cleaned = super().clean()
        data = {_PATIENT_FIELDS[k]: v for k, v in cleaned.items() if k in _PATIENT_FIELDS}
        try:
            patients.registration_validate(**data)
        except ServiceError as exc:
            reverse_map = {v: k for k, v in _PATIENT_FIELDS.items()}
            for field, messages in exc.field_errors.items():
                for message in messages:
                    self.add_error(reverse_map.get(field), message)
            if not exc.field_errors:
                raise forms.ValidationError(exc.message) from exc
        return cleaned

    def signup(self, request, user) -> None:
        from carehub.patients import services as patients

        data = self.cleaned_data
        user.first_name = data["first_name"]
        user.last_name = data["last_name"]
        user.save(update_fields=["first_name", "last_name"])
        patients.patient_register(
            actor=None,
            site=data["site"],
            user=user,
            email=user.email,
            **{_PATIENT_FIELDS[k]: v for k, v in data.items() if k in _PATIENT_FIELDS},
        )

"""Forms of the accounts app."""

from __future__ import annotations

from django import forms

from carehub.patients.choices import Sex


class PatientSignupForm(forms.Form):
    """Extra sign-up fields: what a clinic needs to open a patient record."""

    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    birth_date = forms.DateField(label="Date of birth", widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(label="Sex", choices=Sex.choices)
    phone = forms.CharField(label="Mobile phone", max_length=32, required=False)
    site = forms.ModelChoiceField(label="Your clinic", queryset=None, empty_label=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from carehub.directory import selectors as directory

        self.fields["site"].queryset = directory.site_choices()

    def signup(self, request, user) -> None:
        from carehub.core.exceptions import ServiceError
        from carehub.patients import services as patients

        data = self.cleaned_data
        user.first_name = data["first_name"]
        user.last_name = data["last_name"]
        user.save(update_fields=["first_name", "last_name"])
        try:
            patients.patient_register(
                actor=None, site=data["site"], user=user, given_name=data["first_name"],
                family_name=data["last_name"], birth_date=data["birth_date"], sex=data["sex"],
                phone=data["phone"], email=user.email,
            )
        except ServiceError as exc:
            # allauth runs signup inside a transaction: raising here rolls the user back too.
            raise forms.ValidationError(exc.message) from exc

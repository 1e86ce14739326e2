from __future__ import annotations

from decimal import Decimal

from django import forms

from carehub.triage.choices import Sex
from carehub.triage.services import MAX_TEXT


class StartForm(forms.Form):
    """Who the check is for and what they feel; the service validates again."""

    age = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal(120),
        decimal_places=2,
        label="Age in years",
        help_text="For a baby, use a fraction: 0.5 is six months.",
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    sex = forms.ChoiceField(choices=Sex.choices, widget=forms.RadioSelect, label="Sex at birth")
    text = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        label="Describe what you feel, in your own words",
        help_text='For example: "sore throat and fever since yesterday, no cough".',
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    findings = forms.MultipleChoiceField(
        required=False,
        label="Or pick your main symptoms",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["findings"].choices = choices

    def clean(self):
        data = super().clean()
        if not data.get("text", "").strip() and not data.get("findings"):
            raise forms.ValidationError(
                "Describe what you feel, or pick at least one symptom from the list."
            )
        return data

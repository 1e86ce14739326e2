"""Forms of the directory pages: they shape input; the rules live in `services`."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms

from carehub.accounts.choices import Role
from carehub.core.exceptions import ServiceError
from carehub.directory import selectors, services
from carehub.directory.models import validate_timezone
from carehub.directory.services import PHOTO_MAX_BYTES

LANGUAGES_HELP = "Two-letter codes separated by commas, e.g. en, fr, es."
PHOTO_HELP = "Optional. A JPEG, PNG, WebP or GIF image of at most 2 MB."


@cache
def timezone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def add_service_errors(form: forms.Form, exc: ServiceError) -> None:
    """Show a service's refusal on the form: each message under its field, the rest on top."""
    if not exc.field_errors:
        form.add_error(None, exc.message)
        return
    for name, messages in exc.field_errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


class LanguagesField(forms.CharField):
    """A comma-separated list of language codes, shown the same way."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value


class PhotoField(forms.ImageField):
    """Pillow checks that it is an image; the size limit is checked before that."""

    def to_python(self, data):
        if data and getattr(data, "size", 0) > PHOTO_MAX_BYTES:
            raise forms.ValidationError("The photo must be 2 MB or smaller.", code="too_large")
        return super().to_python(data)


class SiteForm(forms.Form):
    code = forms.SlugField(
        label="Code",
        max_length=12,
        help_text="Starts every medical record number of the site, e.g. RIV. It never changes.",
    )
    name = forms.CharField(label="Name", max_length=200)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        validators=[validate_timezone],
        help_text="An IANA time zone such as Europe/London or America/New_York.",
        widget=forms.TextInput(attrs={"list": "timezone-names", "autocomplete": "off"}),
    )
    emergency_phone = forms.CharField(
        label="Emergency number",
        max_length=32,
        help_text="The local emergency number, e.g. 999, 911 or 112.",
    )
    phone = forms.CharField(label="Reception phone", max_length=32, required=False)
    address = forms.CharField(
        label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    booking_min_notice_minutes = forms.IntegerField(
        label="Minimum booking notice (minutes)",
        required=False,
        min_value=0,
        max_value=60 * 24 * 30,
        help_text="Patients can book online until this long before the start (staff any time).",
    )
    cancellation_cutoff_minutes = forms.IntegerField(
        label="Online cancellation cut-off (minutes)",
        required=False,
        min_value=0,
        max_value=60 * 24 * 30,
        help_text="Patients can cancel or reschedule online until this long before the start.",
    )
    booking_horizon_days = forms.IntegerField(
        label="Booking horizon (days)",
        required=False,
        min_value=1,
        max_value=730,
        help_text="How far ahead appointments can be booked.",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]  # the code prefixes record numbers: it never changes
        else:
            # A new site starts with the default booking rules; they are changed on its edit page.
            for name in services.SITE_BOOKING_FIELDS:
                del self.fields[name]


class PractitionerFilterForm(forms.Form):
    specialty: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Specialty",
        queryset=None,
        required=False,
        to_field_name="code",
        empty_label="Any specialty",
    )
    site: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Site",
        queryset=None,
        required=False,
        to_field_name="public_id",
        empty_label="Any site",
    )
    q = forms.CharField(label="Name", required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["specialty"].queryset = selectors.specialty_choices()
        self.fields["site"].queryset = selectors.site_choices()


class _ProfileFields(forms.Form):
    languages = LanguagesField(
        label="Languages spoken", required=False, max_length=200, help_text=LANGUAGES_HELP
    )
    bio = forms.CharField(
        label="Short biography",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Shown to patients choosing a clinician. At most 2,000 characters.",
    )
    photo = PhotoField(
        label="Photo",
        required=False,
        help_text=PHOTO_HELP,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )


class _ProfessionalFields(_ProfileFields):
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150)
    title = forms.CharField(label="Title", max_length=20, required=False, help_text="e.g. Dr")
    specialties: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label="Specialties",
        queryset=None,
        required=False,
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        help_text="At least one for a doctor.",
    )
    sites: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label="Works at",
        queryset=None,
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
    )
    registration_number = forms.CharField(
        label="Professional registration number",
        max_length=64,
        required=False,
        help_text="e.g. GMC or NMC number, or the state licence number.",
    )

    field_order = [
        "email",
        "role",
        "title",
        "first_name",
        "last_name",
        "specialties",
        "sites",
        "languages",
        "bio",
        "photo",
        "remove_photo",
        "registration_number",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["specialties"].queryset = selectors.specialty_choices()
        self.fields["sites"].queryset = selectors.site_choices()


class OnboardForm(_ProfessionalFields):
    """The one form that creates the account, the professional profile and the invitation."""

    email = forms.EmailField(
        label="Work email", help_text="The invitation to set a password is sent here."
    )
    role = forms.ChoiceField(
        label="Role",
        choices=[(Role.DOCTOR, Role.DOCTOR.label), (Role.NURSE, Role.NURSE.label)],
        widget=forms.RadioSelect,
        initial=Role.DOCTOR,
    )


class _PhotoRemoval(forms.Form):
    remove_photo = forms.BooleanField(label="Remove the current photo", required=False)

    def profile_changes(self) -> dict:
        """Cleaned data as service arguments; `photo` only when it changes (False removes it)."""
        data = dict(self.cleaned_data)
        remove = data.pop("remove_photo", False)
        if remove:
            data["photo"] = False
        elif not data.get("photo"):
            data.pop("photo", None)
        return data


class PractitionerAdminForm(_PhotoRemoval, _ProfessionalFields):
    """Everything an administrator may change on a practitioner's profile."""


class PractitionerSelfForm(_PhotoRemoval, _ProfileFields):
    """What a clinician may change about their own profile."""

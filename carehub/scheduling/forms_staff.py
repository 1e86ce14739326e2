"""Forms of the staff scheduling pages: they parse and type the input; the rules (what a rule
may look like, who can take an appointment) live in `services`."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from carehub.core.widgets import FastSelect
from carehub.directory import selectors as directory
from carehub.scheduling.choices import WEEKDAYS, ExceptionKind, RuleMode, Status

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
WALL_CLOCK_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")
# Dates far outside any schedule would overflow date arithmetic (date.max + 1 day): refused.
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)
IN_RANGE = [
    MinValueValidator(EARLIEST, "Choose a date from 2000 on."),
    MaxValueValidator(LATEST, "Choose a date before 2200."),
]


def date_field(label: str, *, required: bool = False) -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DATE_WIDGET, validators=IN_RANGE)


class PractitionerChoiceField(forms.ModelChoiceField):
    """A practitioner by public id, labelled with their name (no extra query per option)."""

    widget = FastSelect

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(queryset=None, **kwargs)

    def label_from_instance(self, obj) -> str:
        return obj.display_name


def practitioner_choices(actor):
    """Active practitioners, by name (a page's pick list: no specialties or sites loaded)."""
    return (
        directory.practitioner_list(actor=actor)
        .filter(user__is_active=True)
        .prefetch_related(None)
        .order_by("user__last_name", "user__first_name")
    )


class WallClockField(forms.DateTimeField):
    """A date and time on a site's wall clock, kept naive: the view attaches the site's zone
    (Django's own field would read it in the server's zone)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        text = str(value).strip()
        for fmt in WALL_CLOCK_FORMATS:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise forms.ValidationError("Enter a date and time, e.g. 2026-12-01 09:00.", code="invalid")

    def validate(self, value: datetime | None) -> None:
        super().validate(value)
        if value is not None and not EARLIEST <= value.date() <= LATEST:
            raise forms.ValidationError("Choose a date between 2000 and 2199.", code="range")


class PractitionerPickForm(forms.Form):
    """A clinic administrator chooses whose availability or feeds to manage."""

    practitioner = PractitionerChoiceField(label="Practitioner", empty_label="Choose…")

    def __init__(self, *args: Any, actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["practitioner"])
        field.queryset = practitioner_choices(actor)


# --- day, week, calendar -------------------------------------------------------------------------
class DayForm(forms.Form):
    """The day (or week) a clinician looks at; nurses also pick whose list."""

    date = date_field("Date")
    practitioner = PractitionerChoiceField(
        label="Practitioner", required=False, empty_label="Myself"
    )

    def __init__(self, *args: Any, actor, pick_practitioner: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if pick_practitioner:
            field = cast(forms.ModelChoiceField, self.fields["practitioner"])
            field.queryset = practitioner_choices(actor)
        else:
            del self.fields["practitioner"]


SPAN_CHOICES = [("day", "One day"), ("week", "Seven days")]


class CalendarFilterForm(forms.Form):
    site: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Site",
        queryset=None,
        required=False,
        to_field_name="public_id",
        empty_label="All sites",
        widget=FastSelect,
    )
    specialty: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Specialty",
        queryset=None,
        required=False,
        to_field_name="code",
        empty_label="All specialties",
        widget=FastSelect,
    )
    practitioner = PractitionerChoiceField(
        label="Practitioner", required=False, empty_label="All practitioners"
    )
    date = date_field("From")
    span = forms.ChoiceField(label="Show", choices=SPAN_CHOICES, required=False, initial="day")
    status = forms.ChoiceField(
        label="Status", choices=[("", "Any status"), *Status.choices], required=False
    )

    def __init__(self, *args: Any, actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["site"]).queryset = directory.site_choices()
        cast(
            forms.ModelChoiceField, self.fields["specialty"]
        ).queryset = directory.specialty_choices()
        cast(forms.ModelChoiceField, self.fields["practitioner"]).queryset = practitioner_choices(
            actor
        )


class TransitionForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (Status.CHECKED_IN, "Check in"),
            (Status.IN_PROGRESS, "Start"),
            (Status.COMPLETED, "Complete"),
            (Status.NO_SHOW, "No-show"),
        ]
    )
    next = forms.CharField(required=False, max_length=500)


# --- reassignment --------------------------------------------------------------------------------
class ReassignForm(forms.Form):
    """Whose day, which day, and (optionally, for the preview) to whom."""

    practitioner = PractitionerChoiceField(
        label="Practitioner who is unavailable", empty_label="Choose a practitioner"
    )
    date = date_field("Date", required=True)
    target = PractitionerChoiceField(
        label="Move the appointments to",
        required=False,
        empty_label="Choose a practitioner",
        help_text="Practitioners who share a specialty with the one who is unavailable.",
    )

    def __init__(self, *args: Any, actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        everyone = practitioner_choices(actor)
        cast(forms.ModelChoiceField, self.fields["practitioner"]).queryset = everyone
        # Any practitioner is accepted here, so that the reassignment itself explains a refusal
        # (another specialty); the list offered is narrowed by `offer_targets`.
        cast(forms.ModelChoiceField, self.fields["target"]).queryset = everyone

    def offer_targets(self, practitioner) -> None:
        """Offer only colleagues of the same specialty as `practitioner`."""
        field = cast(forms.ModelChoiceField, self.fields["target"])
        same = (
            practitioner_choices(self.actor)
            .filter(specialties__in=practitioner.specialties.all())
            .exclude(pk=practitioner.pk)
            .distinct()
        )
        field.widget.choices = [("", field.empty_label)] + [
            (str(p.public_id), p.display_name) for p in same
        ]


class ReassignConfirmForm(ReassignForm):
    action = forms.ChoiceField(
        choices=[("move", "Move them"), ("cancel", "Cancel them")], widget=forms.HiddenInput
    )
    cancel_reason = forms.CharField(
        label="Reason given to the patients",
        required=False,
        max_length=300,
        # Needed to cancel, not to move: the reassignment says so when it is missing.
        widget=forms.Textarea(attrs={"rows": 2, "aria-required": "true"}),
        help_text="Sent to each patient with the cancellation. At most 300 characters.",
    )


# --- availability --------------------------------------------------------------------------------
class RuleForm(forms.Form):
    weekday = forms.TypedChoiceField(label="Day of the week", choices=WEEKDAYS, coerce=int)
    site: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Site", queryset=None, to_field_name="public_id", empty_label=None
    )
    start_time = forms.TimeField(label="From", widget=TIME_WIDGET)
    end_time = forms.TimeField(label="Until", widget=TIME_WIDGET)
    slot_minutes = forms.IntegerField(
        label="Slot length (minutes)",
        initial=20,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
    )
    mode = forms.ChoiceField(label="Visits", choices=RuleMode.choices, initial=RuleMode.BOTH)
    valid_from = date_field("First day")
    valid_until = date_field("Last day")

    def __init__(self, *args: Any, practitioner, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "rule-%s")  # unique ids beside the exception form
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["site"]).queryset = practitioner.sites.order_by(
            "name"
        )

    @staticmethod
    def initial_for(rule) -> dict[str, Any]:
        return {
            "weekday": rule.weekday,
            "site": rule.site.public_id,
            "start_time": rule.start_time,
            "end_time": rule.end_time,
            "slot_minutes": rule.slot_minutes,
            "mode": rule.mode,
            "valid_from": rule.valid_from,
            "valid_until": rule.valid_until,
        }


class ExceptionForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=ExceptionKind.choices)
    site: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Site",
        queryset=None,
        to_field_name="public_id",
        required=False,
        empty_label="All sites",
        help_text="Leave, holidays and blocked hours may cover every site; an extra session "
        "needs one.",
    )
    start = WallClockField(label="Starts")
    end = WallClockField(label="Ends")
    slot_minutes = forms.IntegerField(
        label="Slot length (minutes)",
        required=False,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Extra sessions only.",
    )
    mode = forms.ChoiceField(
        label="Visits",
        choices=[("", "—"), *RuleMode.choices],
        required=False,
        help_text="Extra sessions only.",
    )
    note = forms.CharField(label="Note", required=False, max_length=200)

    def __init__(self, *args: Any, practitioner, tz_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "exception-%s")  # unique ids beside the rule form
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["site"]).queryset = practitioner.sites.order_by(
            "name"
        )
        for name in ("start", "end"):
            self.fields[name].help_text = f"Local time at the site ({tz_name})."


class FeedForm(forms.Form):
    """Names a feed to revoke (by its token hash: feeds have no public id)."""

    feed = forms.RegexField(regex=TOKEN_HASH, widget=forms.HiddenInput)

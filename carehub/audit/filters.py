"""Filter sets for the audit trail: one form per table, shared by the report pages and the CSV
exports (and later the API), so query parameters are parsed into ORM filters in one place.

A form validates the GET parameters; `apply(queryset)` turns its cleaned data into filters and a
whitelisted ordering. Bad input becomes form errors, never an exception in the view."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from django import forms
from django.db.models import Q, QuerySet

from carehub.audit.choices import AccessCategory, ChangeAction, Priority, Purpose
from carehub.core.widgets import FastSelect


def _blank(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class AuditFilterForm(forms.Form):
    """Date range, user and patient filters and a sort order common to every audit table."""

    # GET parameter -> ORM ordering. Only these keys are accepted, so a request cannot sort by an
    # arbitrary column (or inject an expression). `seq` breaks ties deterministically.
    SORTS: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        "-time": ("Newest first", ("-at", "-seq")),
        "time": ("Oldest first", ("at", "seq")),
        "user": ("User (A-Z)", ("actor_label", "-at", "-seq")),
        "-user": ("User (Z-A)", ("-actor_label", "-at", "-seq")),
        "patient": ("Patient", ("patient_id", "-at", "-seq")),
    }
    DEFAULT_SORT: ClassVar[str] = "-time"

    user = forms.CharField(
        required=False,
        max_length=254,
        label="User",
        help_text="Part of the email address, or the user's public id.",
    )
    patient = forms.CharField(
        required=False,
        max_length=64,
        label="Patient",
        help_text="The patient's public id.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # `from` is a Python keyword, so the date fields are added here rather than declared.
        dates = {
            "from": forms.DateField(
                required=False,
                label="From (UTC date)",
                widget=forms.DateInput(attrs={"type": "date"}),
            ),
            "to": forms.DateField(
                required=False,
                label="To (UTC date, inclusive)",
                widget=forms.DateInput(attrs={"type": "date"}),
            ),
        }
        self.fields = {**dates, **self.fields}
        self.fields["sort"] = forms.ChoiceField(
            required=False,
            label="Sort by",
            choices=[(key, label) for key, (label, _) in self.SORTS.items()],
        )
        for field in self.fields.values():
            if type(field.widget) is forms.Select:  # same markup, without a template per option
                field.widget = FastSelect(choices=field.widget.choices)

    # --- validation -----------------------------------------------------------------------
    def clean_patient(self) -> uuid.UUID | None:
        value = self.cleaned_data["patient"].strip()
        if not value:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            # MRN lookup needs a selector in carehub.patients (patient_id_by_mrn), not yet there.
            raise forms.ValidationError(
                "Enter the patient's public id (a UUID). Search by MRN is not available yet."
            ) from None

    def clean_user(self) -> str:
        return self.cleaned_data["user"].strip()

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            self.add_error("to", "The end date must be on or after the start date.")
        return cleaned

    # --- turning the cleaned data into a query ---------------------------------------------
    @property
    def patient_id(self) -> uuid.UUID | None:
        return self.cleaned_data.get("patient") if self.is_valid() else None

    def filter_q(self) -> Q:
        data = self.cleaned_data
        q = Q()
        if data.get("from"):
            q &= Q(at__gte=_utc_start(data["from"]))
        if data.get("to") and data["to"] < date.max:
            q &= Q(at__lt=_utc_start(data["to"] + timedelta(days=1)))
        if data.get("user"):
            q &= self.user_q(data["user"])
        if data.get("patient"):
            q &= Q(patient_id=data["patient"])
        return q & self.extra_q(data)

    def user_q(self, text: str) -> Q:
        """Rows by the user whose email contains `text`, or whose public id is `text`."""
        q = Q(actor_label__icontains=text)
        public_id = _uuid_or_none(text)
        if public_id is not None:
            q |= Q(actor_id=public_id)
        return q

    def extra_q(self, data: dict[str, Any]) -> Q:
        """Filters of one table; subclasses extend."""
        return Q()

    def ordering(self) -> tuple[str, ...]:
        key = self.cleaned_data.get("sort") or self.DEFAULT_SORT
        return self.SORTS[key][1]

    def apply(self, queryset: QuerySet) -> QuerySet:
        """`queryset` filtered and ordered as asked. Call only on a valid form."""
        if not self.is_valid():
            raise ValueError("apply() needs a valid filter form")
        return queryset.filter(self.filter_q()).order_by(*self.ordering())

    def params(self) -> dict[str, str]:
        """The filters in effect, as strings (recorded with exports)."""
        out: dict[str, str] = {}
        for name, value in self.cleaned_data.items():
            if value in (None, ""):
                continue
            out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


class AccessFilterForm(AuditFilterForm):
    """Filters for the PHI access log (who read which patient's what)."""

    SORTS = {
        **AuditFilterForm.SORTS,
        "category": ("Category", ("category", "-at", "-seq")),
    }

    category = forms.ChoiceField(required=False, choices=_blank(AccessCategory.choices))
    purpose = forms.ChoiceField(required=False, choices=_blank(Purpose.choices))

    def extra_q(self, data: dict[str, Any]) -> Q:
        q = Q()
        if data.get("category"):
            q &= Q(category=data["category"])
        if data.get("purpose"):
            q &= Q(purpose=data["purpose"])
        return q


class EventFilterForm(AuditFilterForm):
    """Filters for named events (`user.logged_in`, `patient.break_glass_opened`, ...)."""

    SORTS = {
        **AuditFilterForm.SORTS,
        "name": ("Event name", ("name", "-at", "-seq")),
        "priority": ("Priority (high first)", ("priority", "-at", "-seq")),
    }

    name = forms.CharField(
        required=False,
        max_length=100,
        label="Event",
        help_text="An event name, or its beginning (user. for every sign-in event).",
    )
    priority = forms.ChoiceField(required=False, choices=_blank(Priority.choices))

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def user_q(self, text: str) -> Q:
        # Failed sign-ins and lockouts have no actor: the account they concern is the object.
        q = super().user_q(text)
        public_id = _uuid_or_none(text)
        if public_id is not None:
            q |= Q(object_type="accounts.user", object_id=str(public_id))
        return q

    def extra_q(self, data: dict[str, Any]) -> Q:
        q = Q()
        if data.get("name"):
            q &= Q(name__istartswith=data["name"])
        if data.get("priority"):
            q &= Q(priority=data["priority"])
        return q


class ChangeFilterForm(AuditFilterForm):
    """Filters for before/after change rows."""

    SORTS = {
        **AuditFilterForm.SORTS,
        "model": ("Record type", ("model", "-at", "-seq")),
    }

    model = forms.CharField(
        required=False,
        max_length=100,
        label="Record type",
        help_text="For example patients.patient.",
    )
    action = forms.ChoiceField(required=False, choices=_blank(ChangeAction.choices))

    def clean_model(self) -> str:
        return self.cleaned_data["model"].strip().lower()

    def extra_q(self, data: dict[str, Any]) -> Q:
        q = Q()
        if data.get("model"):
            q &= Q(model=data["model"])
        if data.get("action"):
            q &= Q(action=data["action"])
        return q

"""Small helpers shared by the patient tests."""

from __future__ import annotations

import datetime

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.patients.models import Patient
from carehub.patients.tests.factories import relate


def own(actor, target: Patient) -> None:
    """Make `target` the patient actor's own record (instead of the one make_actor gave them)."""
    mine = Patient.objects.get(user=actor)
    mine.user = None
    mine.save()
    target.user = actor
    target.save()


def grant_by_role(actor, target: Patient) -> None:
    """What each role needs to reach `target`: own record, or a care relationship."""
    if actor.role == Role.PATIENT:
        own(actor, target)
    elif actor.role in CLINICIAN_ROLES:
        relate(actor.practitioner, target)


def registration_data(site, **overrides) -> dict:
    data = {
        "given_name": "John",
        "family_name": "Smith",
        "birth_date": datetime.date(1980, 5, 17),
        "sex": "male",
        "phone": "+44 7700 900123",
        "email": "john.smith@example.org",
    }
    data.update(overrides)
    return data


def form_data(site, **overrides) -> dict:
    """POST data of the registration form."""
    data = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "birth_date": "1985-12-10",
        "sex": "female",
        "phone": "+44 7700 900555",
        "email": "ada@example.org",
        "address_line": "1 High St",
        "city": "Leeds",
        "postal_code": "LS1 1AA",
        "country": "gb",
        "preferred_language": "en",
        "emergency_contact_name": "Charles",
        "emergency_contact_phone": "+44 7700 900556",
        "emergency_contact_relation": "friend",
        "reminder_channel": "email",
        "national_id": "",
        "site": str(site.public_id),
    }
    data.update(overrides)
    return data

from __future__ import annotations

import datetime

import factory

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.directory.tests.factories import SiteFactory
from carehub.patients.choices import RelationshipSource, Sex
from carehub.patients.models import CareRelationship, Patient


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    """A patient record without a sign-in account (use `make_patient_user` for one with)."""

    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    mrn = factory.Sequence(lambda n: f"T-{n:06d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    birth_date = factory.Faker(
        "date_between", start_date=datetime.date(1940, 1, 1), end_date=datetime.date(2015, 1, 1)
    )
    sex = Sex.FEMALE
    phone = factory.Sequence(lambda n: f"+44 7700 9{n:05d}")
    email = factory.Sequence(lambda n: f"patient{n}@example.org")


def make_patient_user(**patient_kwargs) -> Patient:
    """A patient who can sign in: a user with role patient linked to their record."""
    user = make_user(Role.PATIENT)
    return PatientFactory.create(user=user, email=user.email, **patient_kwargs)


def relate(practitioner, patient: Patient) -> CareRelationship:
    return CareRelationship.objects.create(
        practitioner=practitioner, patient=patient, source=RelationshipSource.ASSIGNED
    )

from __future__ import annotations

import factory

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.directory.models import Practitioner, Site, Specialty


class SiteFactory(factory.django.DjangoModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"s{n}")
    name = factory.Sequence(lambda n: f"Riverside Clinic {n}")
    timezone = "Europe/London"
    emergency_phone = "999"


class SpecialtyFactory(factory.django.DjangoModelFactory[Specialty]):
    class Meta:
        model = Specialty
        django_get_or_create = ("code",)

    code = "general_practice"
    label = "General practice / family medicine"


def make_practitioner(
    *,
    role: str = Role.DOCTOR,
    site: Site | None = None,
    specialty_code: str = "general_practice",
    **user_kwargs,
) -> Practitioner:
    """A clinician user (with TOTP) and their practitioner profile."""
    user = make_user(role, **user_kwargs)
    practitioner = Practitioner.objects.create(
        user=user, title="Dr" if role == Role.DOCTOR else "", languages=["en"]
    )
    practitioner.sites.add(site or SiteFactory.create())
    practitioner.specialties.add(
        SpecialtyFactory.create(code=specialty_code, label=specialty_code.replace("_", " ").title())
    )
    return practitioner

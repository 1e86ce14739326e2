"""Reads of the directory (not patient data: no access log)."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from carehub.core.exceptions import NotFound
from carehub.directory.models import Practitioner, Site, Specialty


def site_choices() -> QuerySet[Site]:
    return Site.objects.order_by("name")


def specialty_choices() -> QuerySet[Specialty]:
    return Specialty.objects.order_by("label")


def site_by_id(*, site_id: int) -> Site:
    """A site by primary key, for other apps' internal use (sites are not private data)."""
    return Site.objects.get(pk=site_id)


def site_list(*, actor, action: str = "view") -> QuerySet[Site]:
    """Sites `actor` may `action`, by name."""
    return Site.objects.restrict(actor, action).order_by("name")


def site_get(*, actor, public_id: uuid.UUID | str, action: str = "view") -> Site:
    try:
        return Site.objects.restrict(actor, action).get(public_id=uuid.UUID(str(public_id)))
    except (ValueError, Site.DoesNotExist) as exc:
        raise NotFound("No such site.") from exc


def practitioner_list(
    *, actor, specialty: str = "", site=None, search: str = ""
) -> QuerySet[Practitioner]:
    qs = (
        Practitioner.objects.restrict(actor, "view")
        .select_related("user")
        .prefetch_related("specialties", "sites")
    )
    if specialty:
        qs = qs.filter(specialties__code=specialty)
    if site is not None:
        qs = qs.filter(sites=site)
    for word in (search or "").split():
        qs = qs.filter(Q(user__last_name__icontains=word) | Q(user__first_name__icontains=word))
    return qs.distinct()


def practitioner_get(*, actor, public_id: uuid.UUID | str, action: str = "view") -> Practitioner:
    """One practitioner `actor` may `action`, or NotFound."""
    try:
        return (
            Practitioner.objects.restrict(actor, action)
            .select_related("user")
            .prefetch_related("specialties", "sites", "departments")
            .get(public_id=uuid.UUID(str(public_id)))
        )
    except (ValueError, Practitioner.DoesNotExist) as exc:
        raise NotFound("No such practitioner.") from exc


def practitioner_by_id(*, practitioner_id: int) -> Practitioner:
    """For other apps' internal use (a foreign key they already hold)."""
    return Practitioner.objects.select_related("user").get(pk=practitioner_id)


def practitioner_ids_of_specialty(*, specialty_id: int) -> list[int]:
    """Active practitioners of a specialty, by primary key."""
    return list(
        Practitioner.objects.filter(specialties=specialty_id, user__is_active=True).values_list(
            "pk", flat=True
        )
    )


def practitioner_of_user(*, user) -> Practitioner | None:
    practitioner = (
        Practitioner.objects.filter(user=user).prefetch_related("specialties", "sites").first()
    )
    if practitioner is not None:
        practitioner.user = user  # the caller's user object: no second query for it
    return practitioner

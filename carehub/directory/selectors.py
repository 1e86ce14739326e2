"""Reads of the directory (not patient data: no access log)."""

from __future__ import annotations

from django.db.models import QuerySet

from carehub.directory.models import Practitioner, Site, Specialty


def site_choices() -> QuerySet[Site]:
    return Site.objects.order_by("name")


def specialty_choices() -> QuerySet[Specialty]:
    return Specialty.objects.order_by("label")


def practitioner_list(*, actor, specialty: str = "", site=None, search: str = "") -> QuerySet[Practitioner]:
    qs = (
        Practitioner.objects.restrict(actor, "view")
        .select_related("user")
        .prefetch_related("specialties", "sites")
    )
    if specialty:
        qs = qs.filter(specialties__code=specialty)
    if site is not None:
        qs = qs.filter(sites=site)
    if search:
        qs = qs.filter(user__last_name__icontains=search) | qs.filter(user__first_name__icontains=search)
    return qs.distinct()


def practitioner_of_user(*, user) -> Practitioner | None:
    return Practitioner.objects.filter(user=user).prefetch_related("specialties", "sites").first()

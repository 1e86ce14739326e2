"""Role-aware navigation: each role sees only what it can use."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from carehub.accounts.choices import Role

NAV: dict[str, list[tuple[str, str]]] = {
    Role.PATIENT: [("My record", "patients:me"), ("Who viewed my record", "audit:my_access")],
    Role.DOCTOR: [
        ("My patients", "patients:my_patients"),
        ("Find a patient", "patients:list"),
        ("My profile", "directory:my_profile"),
    ],
    Role.NURSE: [
        ("My patients", "patients:my_patients"),
        ("Find a patient", "patients:list"),
        ("My profile", "directory:my_profile"),
    ],
    Role.RECEPTIONIST: [("Patients", "patients:list"), ("Register a patient", "patients:register")],
    Role.CLINIC_ADMIN: [
        ("Overview", "accounts:admin_home"),
        ("Users", "accounts:user_list"),
        ("Doctors", "directory:practitioner_list"),
        ("Patients", "patients:list"),
        ("Duplicates", "patients:duplicates"),
        ("Sites", "directory:site_list"),
    ],
    Role.AUDITOR: [("Audit report", "audit:report"), ("Events", "audit:events")],
}
COMMON = [("Security", "mfa_index")]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for label, name in [*NAV.get(user.role, []), *COMMON]:
        url = reverse(name)
        items.append({"label": label, "url": url, "active": request.path == url})
    return {"nav_items": items}

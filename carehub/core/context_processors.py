"""Role-aware navigation: each role sees only what it can use."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.urls import reverse

from carehub.accounts.choices import Role
from carehub.notifications import selectors as notifications

NAV: dict[str, list[tuple[str, str]]] = {
    Role.PATIENT: [
        ("My record", "patients:me"),
        ("Appointments", "scheduling:mine"),
        ("Book", "scheduling:book"),
        ("Check symptoms", "triage:start"),
        ("Who viewed my record", "audit:my_access"),
    ],
    Role.DOCTOR: [
        ("My day", "scheduling:day"),
        ("My patients", "patients:my_patients"),
        ("Find a patient", "patients:list"),
        ("Availability", "scheduling:availability"),
        ("My profile", "directory:my_profile"),
    ],
    Role.NURSE: [
        ("Day list", "scheduling:day"),
        ("My patients", "patients:my_patients"),
        ("Find a patient", "patients:list"),
        ("My profile", "directory:my_profile"),
    ],
    Role.RECEPTIONIST: [
        ("Calendar", "scheduling:calendar"),
        ("Patients", "patients:list"),
        ("Register a patient", "patients:register"),
        ("Reassign", "scheduling:reassign"),
    ],
    Role.CLINIC_ADMIN: [
        ("Overview", "accounts:admin_home"),
        ("Users", "accounts:user_list"),
        ("Doctors", "directory:practitioner_list"),
        ("Patients", "patients:list"),
        ("Calendar", "scheduling:calendar"),
        ("Availability", "scheduling:availability"),
        ("Sites", "directory:site_list"),
        ("Symptom checker", "triage:usage"),
    ],
    Role.AUDITOR: [("Audit report", "audit:report"), ("Events", "audit:events")],
}
INBOX = ("Inbox", "notifications:list")
COMMON = [INBOX, ("Security", "mfa_index")]
_UNREAD_ATTR = "_carehub_inbox_unread"


def _inbox_unread(request: HttpRequest) -> Callable[[], int]:
    """The unread count as a callable the template calls when it shows it: one COUNT query per
    request, however often the page shows it (the wide navigation and the phone menu both do)."""

    def count() -> int:
        cached: int | None = getattr(request, _UNREAD_ATTR, None)
        if cached is None:
            cached = notifications.unread_count(user=request.user)
            setattr(request, _UNREAD_ATTR, cached)
        return cached

    return count


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    unread = _inbox_unread(request)
    items = []
    for label, name in [*NAV.get(user.role, []), *COMMON]:
        url = reverse(name)
        item = {"label": label, "url": url, "active": request.path == url}
        if (label, name) == INBOX:
            item["unread"] = unread
        items.append(item)
    return {"nav_items": items, "inbox_unread": unread}

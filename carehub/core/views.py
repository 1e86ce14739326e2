"""Home dispatch, health check and error pages."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from carehub.accounts.choices import Role
from carehub.core.api import json_problem_response

HOME_BY_ROLE: dict[str, str] = {
    Role.PATIENT: "patients:me",
    Role.DOCTOR: "patients:my_patients",
    Role.NURSE: "patients:my_patients",
    Role.RECEPTIONIST: "patients:list",
    Role.CLINIC_ADMIN: "accounts:admin_home",
    Role.AUDITOR: "audit:report",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the page with its real work."""
    return redirect(HOME_BY_ROLE.get(getattr(request.user, "role", ""), "account_login"))


WORKER_STALE_AFTER = timedelta(seconds=90)


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """{"status": "ok", "checks": {...}} with 200, or 503 naming the failing check."""
    from carehub.core.models import WorkerHeartbeat

    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    if checks["database"] == "ok":
        beat = (
            WorkerHeartbeat.objects.filter(name="default")
            .values_list("last_seen", flat=True)
            .first()
        )
        if beat is None:
            checks["worker"] = "never seen"
        elif timezone.now() - beat > WORKER_STALE_AFTER:
            checks["worker"] = "stale"
        else:
            checks["worker"] = "ok"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503
    )


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_problem_response(404, "Not found.")
    return render(request, "errors/404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_problem_response(403, "You do not have permission to do this.")
    return render(request, "errors/403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return json_problem_response(500, "Something went wrong on our side. It has been logged.")
    return render(request, "errors/500.html", status=500)

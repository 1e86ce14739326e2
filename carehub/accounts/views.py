"""Account administration: the clinic administrator's home page and the users page."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from carehub.accounts import selectors, services
from carehub.accounts.choices import Role
from carehub.core.exceptions import NotFound, ServiceError


class SignedInRequest(HttpRequest):
    """What the views below receive (login_required runs first); the user is a carehub User."""

    user: Any


PAGE_SIZE = 50


# Two small forms used only by these pages (accounts/forms.py holds the sign-up form).
class UserFilterForm(forms.Form):
    q = forms.CharField(label="Email or name", required=False, max_length=100)
    role = forms.ChoiceField(
        label="Role", required=False, choices=[("", "Any role"), *Role.choices]
    )


class DeactivateForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        help_text="Recorded in the audit trail, e.g. left the clinic.",
    )


def _require_admin(request: SignedInRequest) -> None:
    if request.user.role != Role.CLINIC_ADMIN:
        raise PermissionDenied


def _target(request: SignedInRequest, public_id: uuid.UUID):
    try:
        return selectors.user_get(actor=request.user, public_id=public_id, action="deactivate")
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _back(request: SignedInRequest) -> str:
    """Back to the users page the action was started from (same site only)."""
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=False
    ):
        return url
    return reverse("accounts:user_list")


@login_required
@require_GET
def admin_home(request: SignedInRequest) -> HttpResponse:
    """Where a clinic administrator lands: accounts, security alerts, records to review."""
    _require_admin(request)
    overview = selectors.admin_overview(actor=request.user)
    return render(request, "accounts/admin_home.html", {"overview": overview})


@login_required
@require_GET
def user_list(request: SignedInRequest) -> HttpResponse:
    _require_admin(request)
    form = UserFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    users = selectors.user_list(
        actor=request.user, search=filters.get("q", ""), role=filters.get("role", "")
    )
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/user_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "now": timezone.now(),
            "here": request.get_full_path(),
        },
    )


@login_required
@require_POST
def user_deactivate(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponse:
    """No more sign-in; every session ends and every API token stops working at once."""
    _require_admin(request)
    user = _target(request, public_id)
    form = DeactivateForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Give the reason for deactivating {user.email}.")
        return redirect(_back(request))
    try:
        services.user_deactivate(actor=request.user, user=user, reason=form.cleaned_data["reason"])
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{user.email} is deactivated. Signed out everywhere and API tokens revoked."
        )
    return redirect(_back(request))


@login_required
@require_POST
def user_reactivate(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponse:
    _require_admin(request)
    user = _target(request, public_id)
    try:
        services.user_reactivate(actor=request.user, user=user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{user.email} can sign in again (with a new sign-in; old sessions stay ended).",
        )
    return redirect(_back(request))


@login_required
@require_POST
def user_unlock(request: SignedInRequest, public_id: uuid.UUID) -> HttpResponse:
    _require_admin(request)
    user = _target(request, public_id)
    try:
        services.user_unlock(actor=request.user, user=user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.email} is unlocked and can try to sign in again.")
    return redirect(_back(request))

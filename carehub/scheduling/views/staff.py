"""Staff scheduling pages: a clinician's day and week, the reception calendar, status changes,
reassigning a practitioner's day, and private calendar feeds.

Each view checks the role first (403), reaches appointments through restricted selectors (404,
existence never revealed) and calls one service to write; a service refusal becomes a message
or a form error, never a 500. Pages that show patients log one access row per patient shown
(the selectors do it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.core.decorators import role_required
from carehub.core.exceptions import ServiceError
from carehub.directory import selectors as directory
from carehub.patients.forms import apply_service_error
from carehub.patients.policies import ADMINISTRATIVE_ROLES
from carehub.scheduling import forms_staff as forms
from carehub.scheduling import ics, selectors, services
from carehub.scheduling import slots as engine
from carehub.scheduling.choices import Status
from carehub.scheduling.policies import AVAILABILITY_ROLES, REASSIGN_ROLES, STAFF_ROLES

CLINICIAN_ACTIONS = frozenset(
    {Status.CHECKED_IN, Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW}
)
RECEPTION_ACTIONS = services.RECEPTION_TRANSITIONS
ACTION_LABELS = {
    Status.CHECKED_IN: "Check in",
    Status.IN_PROGRESS: "Start",
    Status.COMPLETED: "Complete",
    Status.NO_SHOW: "No-show",
}
DONE_LABELS = {
    Status.CHECKED_IN: "checked in",
    Status.IN_PROGRESS: "in progress",
    Status.COMPLETED: "completed",
    Status.NO_SHOW: "recorded as a no-show",
}
# secrets.token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
FEED_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


# --- shared helpers ------------------------------------------------------------------------------
def view_name(request: HttpRequest) -> str:
    return request.resolver_match.view_name if request.resolver_match else ""


def role(request: HttpRequest) -> str:
    return getattr(request.user, "role", "")


def optional_url(name: str, **kwargs: Any) -> str:
    """A link to a page another part of the app provides; empty while it does not exist."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def home_zone(practitioner) -> str:
    """The zone a practitioner's pages use for "today": that of their first site by name."""
    sites = sorted(practitioner.sites.all(), key=lambda s: s.name)
    return sites[0].timezone if sites else timezone.get_default_timezone_name()


def managed_practitioner(request: HttpRequest):
    """Whose availability or feeds a page manages: a doctor's own; for a clinic administrator,
    the practitioner named by ?practitioner= (None until one is chosen; 404 if unknown)."""
    if role(request) == Role.DOCTOR:
        return directory.practitioner_of_user(user=request.user)
    public_id = request.GET.get("practitioner", "").strip()
    if not public_id:
        return None
    return directory.practitioner_get(actor=request.user, public_id=public_id)


def practitioner_query(request: HttpRequest, practitioner) -> str:
    """`?practitioner=…` for administrators' links (doctors always manage their own)."""
    if practitioner is None or role(request) == Role.DOCTOR:
        return ""
    return f"?practitioner={practitioner.public_id}"


@dataclass
class Row:
    """One appointment as a staff table shows it (times on its site's wall clock)."""

    appointment: Any
    start: datetime
    end: datetime
    actions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def zone(self) -> str:
        return self.start.tzname() or ""


def _actions(appointment, now: datetime, allowed: frozenset[str]) -> list[tuple[str, str]]:
    # The buttons are the moves the service would accept now (it decides, and re-checks).
    return [
        (str(status), ACTION_LABELS[status])
        for status in (Status.CHECKED_IN, Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW)
        if status in allowed and not services.transition_refusal(appointment, status, now)
    ]


def rows_of(appointments, *, actor, now: datetime | None = None) -> list[Row]:
    """Table rows with the status buttons `actor` may use on each appointment."""
    now = now or timezone.now()
    rows = []
    for a in appointments:
        tz = engine.zone(a.site.timezone)
        if actor.role in CLINICIAN_ROLES:
            # Clinicians change their own appointments only (policies.appointment_rule).
            allowed = CLINICIAN_ACTIONS if a.practitioner.user_id == actor.pk else frozenset()
        else:
            allowed = RECEPTION_ACTIONS
        rows.append(Row(a, a.start.astimezone(tz), a.end.astimezone(tz), _actions(a, now, allowed)))
    return rows


def _today(tz_name: str) -> date:
    return timezone.now().astimezone(engine.zone(tz_name)).date()


def _query(**params: Any) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


# --- a clinician's day and week ------------------------------------------------------------------
@require_GET
@role_required(*CLINICIAN_ROLES)
def day(request: HttpRequest) -> HttpResponse:
    """A clinician's appointments of one day, with check-in / start / complete / no-show."""
    return _days_page(request, days=1)


@require_GET
@role_required(*CLINICIAN_ROLES)
def week(request: HttpRequest) -> HttpResponse:
    """The same over a week (Monday to Sunday), grouped by day."""
    return _days_page(request, days=7)


def _days_page(request: HttpRequest, *, days: int) -> HttpResponse:
    is_nurse = role(request) == Role.NURSE
    form = forms.DayForm(request.GET or None, actor=request.user, pick_practitioner=is_nurse)
    data = form.cleaned_data if form.is_valid() else {}
    chosen = data.get("practitioner")
    practitioner = chosen or directory.practitioner_of_user(user=request.user)
    template = "scheduling/staff/day.html" if days == 1 else "scheduling/staff/week.html"
    context: dict[str, Any] = {"form": form, "practitioner": practitioner, "is_nurse": is_nurse}
    if practitioner is None:
        return render(request, template, context)
    tz_name = home_zone(practitioner)
    today = _today(tz_name)
    first = data.get("date") or today
    if days == 7:
        first -= timedelta(days=first.weekday())
    appointments = selectors.appointments_on_days(
        actor=request.user,
        first=first,
        days=days,
        view=view_name(request),
        practitioner_id=practitioner.pk,
    )
    rows = rows_of(appointments, actor=request.user)
    pick = chosen.public_id if chosen else None
    step = timedelta(days=days)
    context.update(
        tz_name=tz_name,
        first=first,
        last=first + step - timedelta(days=1),
        today=today,
        rows=rows,
        groups=[
            (d, [r for r in rows if r.start.date() == d])
            for d in (first + timedelta(days=i) for i in range(days))
        ],
        prev_url=_query(date=(first - step).isoformat(), practitioner=pick),
        next_url=_query(date=(first + step).isoformat(), practitioner=pick),
        today_url=_query(practitioner=pick),
        other_url=_query(date=first.isoformat(), practitioner=pick),
        day_query=f"?practitioner={pick}&" if pick else "?",
        next_param=request.get_full_path(),
        own=practitioner.user_id == request.user.pk,
    )
    return render(request, template, context)


@require_POST
@role_required(*STAFF_ROLES)
def transition(request: HttpRequest, public_id) -> HttpResponse:
    """Check in, start, complete or mark a no-show (one button of a staff table)."""
    appointment = selectors.appointment_get(
        actor=request.user, public_id=public_id, action="change"
    )
    form = forms.TransitionForm(request.POST)
    fallback = reverse(
        "scheduling:calendar" if role(request) in ADMINISTRATIVE_ROLES else "scheduling:day"
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = fallback
    if not form.is_valid():
        messages.error(request, "Choose one of the actions offered.")
        return redirect(back or fallback)
    status = form.cleaned_data["status"]
    moment = services.when(appointment.start, appointment.site.timezone)
    try:
        services.appointment_transition(actor=request.user, appointment=appointment, status=status)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The appointment of {moment} is {DONE_LABELS[status]}.")
    return redirect(back or fallback)


# --- reception and administrators: the calendar --------------------------------------------------
@dataclass
class PractitionerGroup:
    practitioner: Any
    rows: list[Row]


@require_GET
@role_required(*ADMINISTRATIVE_ROLES)
def calendar(request: HttpRequest) -> HttpResponse:
    """Every practitioner's appointments of a day or a week, filtered; no visit reasons (those
    are for clinicians and the patient)."""
    form = forms.CalendarFilterForm(request.GET or None, actor=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    site = data.get("site")
    practitioner = data.get("practitioner")
    if site is not None:
        tz_name = site.timezone
    else:
        first_site = directory.site_choices().first()
        tz_name = first_site.timezone if first_site else timezone.get_default_timezone_name()
    days = 7 if data.get("span") == "week" else 1
    first = data.get("date") or _today(tz_name)
    specialty = data.get("specialty")
    appointments = selectors.appointments_on_days(
        actor=request.user,
        first=first,
        days=days,
        view=view_name(request),
        status=[data["status"]] if data.get("status") else (),
        practitioner_id=practitioner.pk if practitioner else None,
        site_id=site.pk if site else None,
        specialty=specialty.code if specialty else "",
    )
    groups: dict[int, PractitionerGroup] = {}
    for row in rows_of(appointments, actor=request.user):
        a = row.appointment
        groups.setdefault(a.practitioner_id, PractitionerGroup(a.practitioner, [])).rows.append(row)
    ordered = sorted(
        groups.values(),
        key=lambda g: (g.practitioner.user.last_name, g.practitioner.user.first_name),
    )
    step = timedelta(days=days)
    params = {k: v for k, v in request.GET.items() if k != "date"}
    return render(
        request,
        "scheduling/staff/calendar.html",
        {
            "form": form,
            "groups": ordered,
            "count": len(appointments),
            "first": first,
            "last": first + step - timedelta(days=1),
            "days": days,
            "tz_name": tz_name,
            "prev_url": _query(**params, date=(first - step).isoformat()),
            "next_url": _query(**params, date=(first + step).isoformat()),
            "book_url": optional_url("scheduling:book"),
            "next_param": request.get_full_path(),
            "reassign_url": reverse("scheduling:reassign"),
        },
    )


# --- reassigning a day ---------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@role_required(*REASSIGN_ROLES)
def reassign(request: HttpRequest) -> HttpResponse:
    """When a practitioner is unavailable for a day: preview their booked appointments and
    whether a colleague can take each, then move them all or cancel them all with a reason."""
    actor = request.user
    chosen: dict[str, Any] = {}
    pick: forms.ReassignForm
    if request.method == "POST":
        pick = confirm = forms.ReassignConfirmForm(request.POST, actor=actor)
        if confirm.is_valid():
            data = confirm.cleaned_data
            chosen = dict(data)
            moving = data["action"] == "move"
            if moving and data.get("target") is None:
                confirm.add_error("target", "Choose the practitioner to move the appointments to.")
            else:
                try:
                    result = services.appointments_reassign(
                        actor=actor,
                        practitioner=_loaded(actor, data["practitioner"]),
                        day=data["date"],
                        target=_loaded(actor, data["target"]) if moving else None,
                        cancel_reason=data["cancel_reason"] if not moving else "",
                    )
                except ServiceError as exc:
                    apply_service_error(confirm, exc)
                else:
                    return _reassign_result(request, data, result)
        else:
            chosen = dict(confirm.cleaned_data)
    else:
        pick = forms.ReassignForm(request.GET or None, actor=actor)
        confirm = forms.ReassignConfirmForm(actor=actor)
        if pick.is_valid():
            chosen = dict(pick.cleaned_data)
    preview = None
    if chosen.get("practitioner") and chosen.get("date"):
        practitioner = chosen["practitioner"]
        pick.offer_targets(practitioner)
        preview = selectors.reassign_preview(
            actor=actor,
            practitioner=_loaded(actor, practitioner),
            day=chosen["date"],
            target=_loaded(actor, chosen.get("target")),
            view=view_name(request),
        )
    return render(
        request,
        "scheduling/staff/reassign.html",
        {
            "pick": pick,
            "confirm": confirm,
            "preview": preview,
            "chosen": chosen,
            "zone": _zone_names(preview.rows if preview else []),
        },
    )


def _loaded(actor, practitioner):
    """The practitioner with their sites and specialties loaded once (the checks of each
    appointment read them)."""
    if practitioner is None:
        return None
    return directory.practitioner_get(actor=actor, public_id=practitioner.public_id)


def _zone_names(rows) -> str:
    return ", ".join(sorted({r.appointment.site.timezone for r in rows}))


def _reassign_result(request: HttpRequest, data: dict[str, Any], result) -> HttpResponse:
    left = [a for a, _ in result.left]
    selectors.appointments_shown(
        actor=request.user,
        appointments=[*result.moved, *result.cancelled, *left],
        view=view_name(request),
    )

    def local(a):
        return a.start.astimezone(engine.zone(a.site.timezone))

    total = len(result.moved) + len(result.cancelled) + len(result.left)
    if total:
        messages.success(
            request,
            f"{len(result.moved)} moved, {len(result.cancelled)} cancelled, "
            f"{len(result.left)} left in place.",
        )
    else:
        messages.info(request, "There were no booked appointments to change on that day.")
    return render(
        request,
        "scheduling/staff/reassign_result.html",
        {
            "practitioner": data["practitioner"],
            "target": data["target"] if data["action"] == "move" else None,
            "day": data["date"],
            "moved": [(a, local(a)) for a in result.moved],
            "cancelled": [(a, local(a)) for a in result.cancelled],
            "left": [(a, local(a), why) for a, why in result.left],
            "calendar_url": reverse("scheduling:calendar") + _query(date=data["date"].isoformat()),
        },
    )


# --- calendar feeds ------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@role_required(*AVAILABILITY_ROLES)
def feeds(request: HttpRequest) -> HttpResponse:
    """A practitioner's private calendar feeds: create one (its URL is shown once), revoke."""
    practitioner = managed_practitioner(request)
    new_url = ""
    if request.method == "POST":
        if practitioner is None:
            raise Http404("Choose a practitioner.")
        here = reverse("scheduling:feeds") + practitioner_query(request, practitioner)
        if request.POST.get("action") == "create":
            try:
                _, token = services.feed_create(actor=request.user, practitioner=practitioner)
            except ServiceError as exc:
                messages.error(request, exc.message)
                return redirect(here)
            new_url = request.build_absolute_uri(
                reverse("scheduling:feed", kwargs={"token": token})
            )
        elif request.POST.get("action") == "revoke":
            form = forms.FeedForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose a feed to revoke.")
                return redirect(here)
            feed = selectors.feed_get(actor=request.user, token_hash=form.cleaned_data["feed"])
            try:
                services.feed_revoke(actor=request.user, feed=feed)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "The feed was revoked: calendars using it stop updating.")
            return redirect(here)
        else:
            messages.error(request, "Choose an action.")
            return redirect(here)
    context: dict[str, Any] = {
        "practitioner": practitioner,
        "new_url": new_url,
        "is_admin": role(request) == Role.CLINIC_ADMIN,
        "here_query": practitioner_query(request, practitioner),
    }
    if role(request) == Role.CLINIC_ADMIN:
        context["pick"] = forms.PractitionerPickForm(
            initial={"practitioner": practitioner.public_id if practitioner else None},
            actor=request.user,
        )
    if practitioner is not None:
        context["feeds"] = selectors.feeds_of(actor=request.user, practitioner_id=practitioner.pk)
        context["tz_name"] = home_zone(practitioner)
    response = render(request, "scheduling/staff/feeds.html", context)
    if new_url:
        # The feed URL is a credential shown once: no cache may keep this page.
        response["Cache-Control"] = "no-store"
    return response


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private feed itself. No sign-in (calendar apps cannot): the unguessable token in the
    URL is the credential; unknown or revoked tokens get 404. Times, mode, site and status only,
    never who the patient is."""
    if not FEED_TOKEN.match(token):
        raise Http404
    calendar_feed = selectors.feed_by_token_hash(token_hash=services.token_hash(token))
    if calendar_feed is None:
        raise Http404
    services.feed_touch(feed=calendar_feed)
    appointments = selectors.feed_appointments(practitioner_id=calendar_feed.practitioner_id)

    def url_for(appointment) -> str:
        return request.build_absolute_uri(
            reverse("scheduling:detail", kwargs={"public_id": appointment.public_id})
        )

    body = ics.feed_ics(
        appointments,
        name=f"CareHub: {calendar_feed.practitioner.display_name}",
        url_for=url_for,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="carehub.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response

"""Audit trail pages: the auditor's access report, events and changes (with CSV exports), and the
patient's "who viewed my record" page. Role check first, then the restricted selectors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from typing import Any

from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from carehub.accounts import selectors as account_selectors
from carehub.accounts.choices import Role
from carehub.audit import selectors, services
from carehub.audit.filters import (
    AccessFilterForm,
    AuditFilterForm,
    ChangeFilterForm,
    EventFilterForm,
)
from carehub.audit.models import AccessRecord, ChainedRecord, Event
from carehub.core.decorators import role_required as gate

PAGE_SIZE = 50
ROLE_LABELS = dict(Role.choices)


def role_required(*roles: str) -> Callable:
    """Audit pages: the shared role gate, GET only, never cached."""

    def decorator(view: Callable) -> Callable:
        return gate(*roles)(require_GET(never_cache(view)))

    return decorator


def _view_name(request: HttpRequest) -> str:
    match = request.resolver_match
    return match.view_name if match else ""


def _page(request: HttpRequest, queryset, decorate: Callable[[Any], None] | None = None) -> Any:
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for row in page.object_list:
        row.actor_role_label = ROLE_LABELS.get(row.actor_role, row.actor_role)
        if decorate is not None:
            decorate(row)
    return page


def _list_page(
    request: HttpRequest,
    *,
    form_class: type[AuditFilterForm],
    selector: Callable,
    template: str,
    decorate: Callable[[Any], None] | None = None,
) -> HttpResponse:
    form = form_class(request.GET)
    rows = selector(actor=request.user, filters=form, view=_view_name(request))
    page = _page(request, rows, decorate)
    return render(request, template, {"form": form, "page_obj": page})


# --- auditor pages ------------------------------------------------------------------------------
@role_required(Role.AUDITOR)
def report(request: HttpRequest) -> HttpResponse:
    """Who read which patient's data: filter, sort, page."""
    return _list_page(
        request,
        form_class=AccessFilterForm,
        selector=selectors.access_list,
        template="audit/report.html",
    )


@role_required(Role.AUDITOR)
def events(request: HttpRequest) -> HttpResponse:
    """Named events (sign-ins, lockouts, merges, break-glass openings, exports)."""
    return _list_page(
        request,
        form_class=EventFilterForm,
        selector=selectors.event_list,
        template="audit/events.html",
    )


@role_required(Role.AUDITOR)
def changes(request: HttpRequest) -> HttpResponse:
    """Before/after rows of every audited write."""
    return _list_page(
        request,
        form_class=ChangeFilterForm,
        selector=selectors.change_list,
        template="audit/changes.html",
        decorate=_add_diff,
    )


def _add_diff(row: Any) -> None:
    """`row.diff`: (field, before, after) for each field the write touched."""
    before, after = row.before or {}, row.after or {}
    # A created or deleted row lists only the fields that held a value.
    names = (
        {*before, *after}
        if row.before and row.after
        else {k for k, v in {**before, **after}.items() if v not in (None, "", [], {})}
    )
    row.diff = [(name, before.get(name), after.get(name)) for name in sorted(names)]


# --- CSV exports --------------------------------------------------------------------------------
class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _time(row: ChainedRecord) -> str:
    return row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stream(header: list[str], rows: Iterable[ChainedRecord], columns: Callable) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(v) for v in columns(row)])


ACCESS_HEADER = [
    "time_utc", "seq", "actor_id", "actor_email", "actor_role", "patient_id", "category",
    "purpose", "channel", "view", "ip", "request_id",
]  # fmt: skip


def _access_columns(r: AccessRecord) -> list[Any]:
    return [
        _time(r), r.seq, r.actor_id, r.actor_label, r.actor_role, r.patient_id, r.category,
        r.purpose, r.channel, r.view, r.ip, r.request_id,
    ]  # fmt: skip


EVENT_HEADER = [
    "time_utc", "seq", "name", "priority", "actor_id", "actor_email", "actor_role", "patient_id",
    "object_type", "object_id", "channel", "ip", "request_id", "data",
]  # fmt: skip


def _event_columns(r: Event) -> list[Any]:
    return [
        _time(r), r.seq, r.name, r.priority, r.actor_id, r.actor_label, r.actor_role, r.patient_id,
        r.object_type, r.object_id, r.channel, r.ip, r.request_id, r.data,
    ]  # fmt: skip


def _export(
    request: HttpRequest,
    *,
    kind: str,
    form_class: type[AuditFilterForm],
    selector: Callable,
    page_name: str,
    header: list[str],
    columns: Callable,
) -> HttpResponseBase:
    form = form_class(request.GET)
    if not form.is_valid():
        # Show the same filters, with their errors, on the page they came from.
        query = request.GET.urlencode()
        return redirect(reverse(page_name) + (f"?{query}" if query else ""))
    rows = selector(actor=request.user, filters=form, view=_view_name(request))
    services.event_record(
        actor=request.user,
        name="audit.exported",
        patient_id=form.patient_id,
        data={"export": kind, "filters": form.params()},
    )
    filename = f"carehub-audit-{kind}-{timezone.now().astimezone(UTC):%Y-%m-%d}.csv"
    response = StreamingHttpResponse(
        _stream(header, rows.iterator(chunk_size=2000), columns),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@role_required(Role.AUDITOR)
def report_csv(request: HttpRequest) -> HttpResponseBase:
    """The access report as CSV, same filters as the page; the export is itself an event."""
    return _export(
        request,
        kind="access",
        form_class=AccessFilterForm,
        selector=selectors.access_list,
        page_name="audit:report",
        header=ACCESS_HEADER,
        columns=_access_columns,
    )


@role_required(Role.AUDITOR)
def events_csv(request: HttpRequest) -> HttpResponseBase:
    """The events list as CSV, same filters as the page; the export is itself an event."""
    return _export(
        request,
        kind="events",
        form_class=EventFilterForm,
        selector=selectors.event_list,
        page_name="audit:events",
        header=EVENT_HEADER,
        columns=_event_columns,
    )


# --- the patient's page -------------------------------------------------------------------------
@role_required(Role.PATIENT)
def my_access(request: HttpRequest) -> HttpResponse:
    """Who looked at my record, when, what and why; emergency (break-glass) reads flagged."""
    page = _page(request, selectors.my_access_list(actor=request.user))
    reasons = selectors.break_glass_reasons(actor=request.user, records=page.object_list)
    names = account_selectors.display_names(
        public_ids={r.actor_id for r in page.object_list if r.actor_id}
    )
    for row in page.object_list:
        row.break_glass_reason = reasons.get(row.seq, "")
        row.actor_name = names.get(row.actor_id, "")
    return render(request, "audit/my_access.html", {"page_obj": page})

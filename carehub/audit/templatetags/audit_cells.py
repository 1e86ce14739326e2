"""Cells the audit tables repeat on every row (50 a page), rendered in Python: an `{% include %}`
per cell cost more than the rest of the page put together."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def actor_cell(row: Any) -> SafeString:
    """Who acted: the label kept on the row (and its role), the bare id, or "System"."""
    if row.actor_label:
        return format_html(
            '<span class="wrap-anywhere">{}</span><br><span class="muted">{}</span>',
            row.actor_label,
            getattr(row, "actor_role_label", "") or "—",
        )
    if row.actor_id:
        return format_html("<code>{}</code>", row.actor_id)
    return format_html('<span class="muted">{}</span>', "System")


@register.simple_tag
def patient_cell(row: Any, filter_url: str) -> SafeString:
    """The patient's public id, shortened, as a link that filters the table to that patient."""
    if not row.patient_id:
        return format_html('<span class="muted">{}</span>', "—")
    public_id = str(row.patient_id)
    return format_html(
        '<a href="{}?patient={}" title="Show only patient {}"><code>{}</code></a>',
        filter_url,
        public_id,
        public_id,
        public_id[:8],
    )


@register.simple_tag
def utc_time(at: datetime | None) -> SafeString:
    """`<time>` in UTC, machine-readable and to the second."""
    if at is None:
        return format_html('<span class="muted">{}</span>', "—")
    at = at.astimezone(UTC)
    return format_html(
        '<time datetime="{}">{}</time>', at.isoformat(), at.strftime("%Y-%m-%d %H:%M:%S")
    )


@register.filter
def short_id(value: Any, length: int = 8) -> str:
    """The first characters of an id, with an ellipsis when cut."""
    text = str(value or "")
    return text if len(text) <= length else text[:length] + "…"

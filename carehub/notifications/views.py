"""Inbox pages. Any signed-in user has an inbox; a message is reached through the restricted
selector, so another user's message is a 404 (its existence is never revealed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from carehub.core.exceptions import NotFound
from carehub.notifications import selectors, services

PAGE_SIZE = 25


def _signed_in(view: Callable) -> Callable:
    """Sign-in required (anonymous: to the sign-in page); NotFound from a selector becomes 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


@_signed_in
@require_GET
def message_list(request: HttpRequest) -> HttpResponse:
    """The inbox, newest first, 25 a page; unread messages are marked."""
    page = Paginator(selectors.message_list(actor=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/list.html", {"page_obj": page})


@_signed_in
@require_POST
def message_read(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Mark a message read, then follow its link (or return to the inbox)."""
    message = selectors.message_get(actor=request.user, public_id=public_id)
    services.message_mark_read(actor=request.user, message=message)
    # The service only stores local paths; checked again here as the redirect is what matters.
    if message.url and services.is_local_path(message.url):
        return redirect(message.url)
    return redirect("notifications:list")


@_signed_in
@require_POST
def message_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread message read."""
    changed = services.messages_mark_all_read(actor=request.user)
    if changed:
        flash.success(request, f"{changed} message{'s' if changed != 1 else ''} marked as read.")
    else:
        flash.info(request, "There were no unread messages.")
    return redirect("notifications:list")

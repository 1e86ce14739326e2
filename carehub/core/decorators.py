"""The role gate every page uses: one place, so every app answers the same way."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from carehub.core.exceptions import Forbidden, NotFound


def role_required(*roles: str) -> Callable:
    """Sign-in first (anonymous: to the sign-in page), then the role gate (403); a service's or
    selector's NotFound is a 404 and its Forbidden a 403. An htmx request from a signed-out
    browser is sent to the sign-in page as a whole (HX-Redirect), never swapped into a page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            htmx = getattr(request, "htmx", None)
            if htmx and not request.user.is_authenticated:
                response = HttpResponse(status=204)
                current = getattr(htmx, "current_url_abs_path", None) or ""
                response["HX-Redirect"] = redirect_to_login(current or "/")["Location"]
                return response
            return signed_in(request, *args, **kwargs)

        @login_required
        def signed_in(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request.user, "role", "") not in roles:
                raise PermissionDenied
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc

        return wrapper

    return decorator

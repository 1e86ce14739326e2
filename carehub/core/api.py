"""RFC 7807 problem JSON for every API error, including the ones raised outside views."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from carehub.core import context
from carehub.core.exceptions import ServiceError

logger = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Server error",
}


def problem(
    status_code: int, detail: str, *, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "request_id": context.current().request_id,
    }
    body.update(extra)
    return body


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
            if not isinstance(v, dict)
            else [str(v)]
            for k, v in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(x) for x in detail]}
    return {"non_field_errors": [str(detail)]}


def problem_exception_handler(exc: Exception, ctx: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        body = problem(exc.status, exc.message, title=exc.title, **exc.extra)
        if exc.field_errors:
            body["errors"] = exc.field_errors
        return Response(body, status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, ctx)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = problem(400, "The request has invalid fields.", title="Validation failed")
        body["errors"] = _flatten(exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, str(detail))
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def json_problem_response(status_code: int, detail: str) -> JsonResponse:
    """Problem JSON for errors raised before DRF sees the request (404/500 handlers under /api/)."""
    return JsonResponse(
        problem(status_code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )

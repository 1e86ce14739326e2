from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse

from carehub.core import context


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it;
    # deployments behind a proxy set it in the proxy (see docs/operations.md).
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) and records the client IP and channel."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        channel = "api" if request.path.startswith("/api/") else "page"
        token = context.activate(
            context.RequestContext(request_id=rid, ip=client_ip(request), channel=channel)
        )
        request.request_id = rid  # type: ignore[attr-defined]
        request_token = context.bind_request(request)
        try:
            response = self.get_response(request)
        finally:
            context.unbind_request(request_token)
            context.deactivate(token)
        response["X-Request-ID"] = rid
        return response

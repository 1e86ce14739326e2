"""One audit append per request for all the patient-data reads it made.

A page often reads several categories of one patient (demographics, consents, care team); each
`access_record` call would otherwise be its own locked append. While a request runs, the rows
are collected and appended together after the view returns and BEFORE the response leaves the
server: if the append fails the request fails, so no read is ever shown without its log row.
Rows recorded while a streaming response is being sent (after this middleware) are appended
immediately."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from carehub.audit import services

logger = logging.getLogger(__name__)


class AccessLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = services.access_buffer_open()
        try:
            response = self.get_response(request)
        except Exception:
            # The view failed after some reads: keep their rows (erring towards logging), but
            # never let a logging failure hide the original error.
            try:
                services.access_buffer_close(token, flush=True)
            except Exception:
                logger.exception("could not append the access log of a failed request")
            raise
        services.access_buffer_close(token, flush=True)
        return response

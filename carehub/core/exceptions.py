"""Errors raised by services. Views and the API turn them into form errors or problem JSON."""

from __future__ import annotations


class ServiceError(Exception):
    """A business rule refused the operation; `message` is safe to show to the user."""

    status = 400
    title = "Invalid request"

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
        self.extra = extra


class ValidationFailed(ServiceError):
    status = 400
    title = "Validation failed"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"

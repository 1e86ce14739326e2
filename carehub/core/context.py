"""Who is acting, from where, under which request id: read by audit without threading
`request` through every service call."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None
    channel: str = "system"  # "page", "api", "system" (commands, jobs)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "carehub_request_context", default=None
)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        ctx = RequestContext()
        _current.set(ctx)
    return ctx


def activate(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


_request: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "carehub_request", default=None
)
_actor: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "carehub_actor", default=None
)


def bind_request(request: object) -> contextvars.Token:
    return _request.set(request)


def unbind_request(token: contextvars.Token) -> None:
    _request.reset(token)


def current_actor() -> object | None:
    """The signed-in user of the current request (after DRF or session auth), or the actor a
    command or job declared with `acting_as`, else None."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else None


class acting_as:  # lower-case name: it is used as a context manager
    """Declare who acts in a command or background job: `with acting_as(user): ...`."""

    def __init__(self, actor: object | None):
        self.actor = actor

    def __enter__(self) -> object | None:
        self._token = _actor.set(self.actor)
        return self.actor

    def __exit__(self, *exc: object) -> None:
        _actor.reset(self._token)

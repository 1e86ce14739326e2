"""Deny-by-default access policies.

Each app registers, per model, a function `(queryset, actor, action) -> queryset` in its
`policies.py`. `Model.objects.restrict(actor, action)` calls it; a model or an action without a
registered rule yields an empty queryset, so forgetting a rule fails closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.db import models

PolicyRule = Callable[[models.QuerySet, Any, str], models.QuerySet]
_registry: dict[type[models.Model], PolicyRule] = {}


def register(model: type[models.Model]) -> Callable[[PolicyRule], PolicyRule]:
    def decorator(rule: PolicyRule) -> PolicyRule:
        _registry[model] = rule
        return rule

    return decorator


def apply[Q: models.QuerySet](queryset: Q, actor: Any, action: str) -> Q:
    """The rows of `queryset` that `actor` may `action`, as a queryset of the same class."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return queryset.none()
    rule = _registry.get(queryset.model)
    if rule is None:
        return queryset.none()
    # Rules filter the queryset they are given, so its class is kept.
    return cast(Q, rule(queryset, actor, action))


def can(actor: Any, action: str, obj: models.Model) -> bool:
    """True when `obj` is within what `actor` may `action` (one indexed query)."""
    manager = type(obj)._default_manager
    return policies_filter(manager.all(), actor, action).filter(pk=obj.pk).exists()


def policies_filter(queryset: models.QuerySet, actor: Any, action: str) -> models.QuerySet:
    return apply(queryset, actor, action)


class PermissionDenied(Exception):
    """Raised by services when the actor may not do what it asks; views map it to 403/404."""

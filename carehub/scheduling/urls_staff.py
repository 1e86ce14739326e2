"""Staff pages of the scheduling app (mounted under /appointments/, namespace "scheduling")."""

from django.urls import URLPattern, path

from carehub.scheduling.views import availability, staff

urlpatterns: list[URLPattern] = [
    path("day/", staff.day, name="day"),
    path("week/", staff.week, name="week"),
    path("calendar/", staff.calendar, name="calendar"),
    path("reassign/", staff.reassign, name="reassign"),
    path("<uuid:public_id>/transition/", staff.transition, name="transition"),
    path("availability/", availability.availability, name="availability"),
    path("availability/rules/add/", availability.rule_add, name="rule_add"),
    path("availability/rules/<uuid:public_id>/", availability.rule_edit, name="rule_edit"),
    path(
        "availability/rules/<uuid:public_id>/delete/",
        availability.rule_delete,
        name="rule_delete",
    ),
    path("availability/exceptions/add/", availability.exception_add, name="exception_add"),
    path(
        "availability/exceptions/<uuid:public_id>/delete/",
        availability.exception_delete,
        name="exception_delete",
    ),
    path("feeds/", staff.feeds, name="feeds"),
    # Public (no sign-in): calendar apps cannot sign in; the token is the credential.
    path("feeds/<str:token>.ics", staff.feed, name="feed"),
]

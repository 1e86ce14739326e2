"""The patient's pages under /appointments/: booking in three steps, their appointments (with
cancel, reschedule and a calendar file) and the waitlist. Services reverse "detail" and
"waitlist" for the links in notifications."""

from django.urls import URLPattern, path

from carehub.scheduling.views import patient as views

urlpatterns: list[URLPattern] = [
    path("", views.mine, name="mine"),
    path("book/", views.book, name="book"),
    path("book/confirm/", views.book_confirm, name="book_confirm"),
    path("book/<slug:specialty_code>/", views.book_slots, name="book_slots"),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/join/", views.waitlist_join, name="waitlist_join"),
    path("waitlist/<uuid:public_id>/leave/", views.waitlist_leave, name="waitlist_leave"),
    path("offers/<uuid:public_id>/accept/", views.offer_accept, name="offer_accept"),
    path("offers/<uuid:public_id>/decline/", views.offer_decline, name="offer_decline"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/calendar.ics", views.ics_file, name="ics"),
    path("<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("<uuid:public_id>/reschedule/", views.reschedule, name="reschedule"),
]

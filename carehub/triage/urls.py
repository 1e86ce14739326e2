"""Symptom checker pages under /symptoms/ (open to everyone; usage for administrators)."""

from django.urls import path

from carehub.triage import views

app_name = "triage"
urlpatterns = [
    path("", views.start, name="start"),
    path("usage/", views.usage, name="usage"),
    path("<uuid:public_id>/", views.session, name="session"),
    path("<uuid:public_id>/answer/", views.answer, name="answer"),
    path("<uuid:public_id>/back/", views.back, name="back"),
]

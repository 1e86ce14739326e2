from django.urls import path

from carehub.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.report, name="report"),
    path("export.csv", views.report_csv, name="report_csv"),
    path("events/", views.events, name="events"),
    path("events/export.csv", views.events_csv, name="events_csv"),
    path("changes/", views.changes, name="changes"),
    path("my-access/", views.my_access, name="my_access"),
]

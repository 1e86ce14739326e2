from django.urls import path

from carehub.triage.api import views

urlpatterns = [
    path("triage/findings/", views.FindingListView.as_view(), name="api-triage-findings"),
    path("triage/sessions/", views.SessionStartView.as_view(), name="api-triage-sessions"),
    path(
        "triage/sessions/<str:public_id>/",
        views.SessionDetailView.as_view(),
        name="api-triage-session",
    ),
    path(
        "triage/sessions/<str:public_id>/answers/",
        views.SessionAnswerView.as_view(),
        name="api-triage-answers",
    ),
]

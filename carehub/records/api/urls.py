from django.urls import path

from carehub.records.api import views

urlpatterns = [
    path(
        "patients/<uuid:public_id>/summary/",
        views.SummaryView.as_view(),
        name="api-patient-summary",
    ),
]

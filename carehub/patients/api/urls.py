from django.urls import path

from carehub.patients.api import views

urlpatterns = [
    path("patients/", views.PatientListView.as_view(), name="api-patients-list"),
    path("patients/me/", views.PatientMeView.as_view(), name="api-patients-me"),
    path(
        "patients/<uuid:public_id>/", views.PatientDetailView.as_view(), name="api-patients-detail"
    ),
]

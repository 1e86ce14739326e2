from django.urls import path

from carehub.scheduling.api import views

urlpatterns = [
    path("practitioners/", views.PractitionerSearchView.as_view(), name="api-practitioners"),
    path(
        "practitioners/<uuid:public_id>/slots/",
        views.SlotListView.as_view(),
        name="api-practitioner-slots",
    ),
    path("appointments/", views.AppointmentListView.as_view(), name="api-appointments"),
    path(
        "appointments/<uuid:public_id>/",
        views.AppointmentDetailView.as_view(),
        name="api-appointment",
    ),
    path(
        "appointments/<uuid:public_id>/reschedule/",
        views.RescheduleView.as_view(),
        name="api-appointment-reschedule",
    ),
    path(
        "appointments/<uuid:public_id>/cancel/",
        views.CancelView.as_view(),
        name="api-appointment-cancel",
    ),
    path(
        "appointments/<uuid:public_id>/status/",
        views.TransitionView.as_view(),
        name="api-appointment-status",
    ),
]

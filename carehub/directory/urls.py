from django.urls import path

from carehub.directory import views

app_name = "directory"
urlpatterns = [
    path("practitioners/", views.practitioner_list, name="practitioner_list"),
    path("practitioners/new/", views.practitioner_onboard, name="onboard"),
    path("practitioners/<uuid:public_id>/", views.practitioner_detail, name="practitioner_detail"),
    path("practitioners/<uuid:public_id>/edit/", views.practitioner_edit, name="practitioner_edit"),
    path(
        "practitioners/<uuid:public_id>/photo/", views.practitioner_photo, name="practitioner_photo"
    ),
    path("me/", views.my_profile, name="my_profile"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/new/", views.site_create, name="site_create"),
    path("sites/<uuid:public_id>/edit/", views.site_edit, name="site_edit"),
]

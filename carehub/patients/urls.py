from django.urls import path

from carehub.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("me/", views.me, name="me"),
    path("me/details/", views.me_details, name="me_details"),
    path("me/consents/", views.me_consents, name="me_consents"),
    path("mine/", views.my_patients, name="my_patients"),
    path("register/", views.register, name="register"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/merge/", views.merge, name="merge"),
    path("duplicates/<uuid:public_id>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/edit/", views.edit, name="edit"),
    path("<uuid:public_id>/care-team/", views.assign, name="assign"),
    path("<uuid:public_id>/emergency-access/", views.break_glass, name="break_glass"),
    path("<uuid:public_id>/unmerge/", views.unmerge, name="unmerge"),
]

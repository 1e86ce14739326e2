from django.urls import path

from carehub.patients import views

app_name = "patients"
urlpatterns: list = []

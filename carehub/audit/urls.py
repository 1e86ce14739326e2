from django.urls import path

from carehub.audit import views

app_name = "audit"
urlpatterns: list = []

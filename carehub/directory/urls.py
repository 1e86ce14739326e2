from django.urls import path

from carehub.directory import views

app_name = "directory"
urlpatterns: list = []

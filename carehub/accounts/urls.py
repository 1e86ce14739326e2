from django.urls import path

from carehub.accounts import views

app_name = "accounts"
urlpatterns: list = []

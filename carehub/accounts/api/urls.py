from django.urls import path

from carehub.accounts.api import views

urlpatterns = [
    path("token/", views.TokenObtainView.as_view(), name="api-token"),
    path("token/refresh/", views.TokenRefreshView.as_view(), name="api-token-refresh"),
]

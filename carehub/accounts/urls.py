from django.urls import path

from carehub.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.user_list, name="user_list"),
    path("admin/", views.admin_home, name="admin_home"),
    path("<uuid:public_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("<uuid:public_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("<uuid:public_id>/unlock/", views.user_unlock, name="user_unlock"),
]

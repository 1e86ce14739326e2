from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from carehub.core import views as core_views

handler404 = "carehub.core.views.not_found"
handler500 = "carehub.core.views.server_error"
handler403 = "carehub.core.views.forbidden"

api_v1: list[URLPattern | URLResolver] = [
    path("auth/", include("carehub.accounts.api.urls")),
    path("", include("carehub.patients.api.urls")),
    path("", include("carehub.scheduling.api.urls")),
    path("", include("carehub.triage.api.urls")),
    path("", include("carehub.records.api.urls")),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("accounts/", include("allauth.urls")),
    path("users/", include("carehub.accounts.urls")),
    path("audit/", include("carehub.audit.urls")),
    path("directory/", include("carehub.directory.urls")),
    path("patients/", include("carehub.patients.urls")),
    path("appointments/", include("carehub.scheduling.urls")),
    path("notifications/", include("carehub.notifications.urls")),
    path("symptoms/", include("carehub.triage.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("django-admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

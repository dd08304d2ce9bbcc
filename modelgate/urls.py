from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from modelgate.core import api as core_api
from modelgate.core import auth_views as auth_views_mg
from modelgate.core import health, portal

core_router = DefaultRouter(trailing_slash=True)
core_router.include_root_view = False
core_router.register("jobs", core_api.JobViewSet, basename="job")
core_router.register("tokens", core_api.ApiTokenViewSet, basename="token")

api_v1 = [
    path("me/", core_api.MeView.as_view(), name="me"),
    path("", include(core_router.urls)),
    path("", include("registry.api.urls")),
    path("", include("governance.api.urls")),
    path("", include("monitoring.api.urls")),
    path("", include("monitoring.telemetry.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/login/", auth_views_mg.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/2.0/mlflow/", include("governance.mlflow.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view loads its start-up script from ?script instead of inlining it: the CSP forbids inline scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("registry/", include("registry.urls")),
    path("governance/", include("governance.urls")),
    path("monitoring/sla/", include("monitoring.telemetry.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("", portal.home, name="home"),
]

handler403 = "modelgate.core.portal.permission_denied"
handler404 = "modelgate.core.portal.page_not_found"
handler500 = "modelgate.core.portal.server_error"

"""REST API routes of SLA monitoring, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from monitoring.telemetry.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("telemetry/sla-rules", views.SlaRuleViewSet, basename="slarule")
router.register("telemetry/alerts", views.AlertViewSet, basename="telemetry-alert")
router.register("telemetry/data-tests", views.DataTestViewSet, basename="datatest")

urlpatterns = [
    path("telemetry/events/", views.EventIngestView.as_view(), name="telemetry-events"),
    path("telemetry/ground-truth/", views.GroundTruthIngestView.as_view(), name="telemetry-ground-truth"),
    path("telemetry/overview/", views.OverviewView.as_view(), name="telemetry-overview"),
    path("telemetry/deployments/<id:pk>/dashboard/", views.DashboardView.as_view(), name="telemetry-dashboard"),
    path("telemetry/deployments/<id:pk>/canary/", views.CanaryView.as_view(), name="telemetry-canary"),
    *router.urls,
]

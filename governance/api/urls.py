"""REST API routes of the governance app, mounted under /api/v1/."""

from rest_framework.routers import DefaultRouter

from governance.api import views
from governance.modelrisk import api as modelrisk_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("promotion-requests", views.PromotionRequestViewSet, basename="promotionrequest")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("governance-alerts", views.GovernanceAlertViewSet, basename="governancealert")
router.register("version-lifecycle", views.VersionLifecycleViewSet, basename="versionlifecycle")
router.register("ci-test-results", views.CITestResultViewSet, basename="citestresult")
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhookdelivery")
router.register("webhook-allowed-addresses", views.WebhookAllowedAddressViewSet, basename="webhookallowedaddress")
router.register("audit", views.AuditEventViewSet, basename="auditevent")
modelrisk_api.register(router)

urlpatterns = [*router.urls]

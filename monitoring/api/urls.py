"""REST API routes of the monitoring app, mounted under /api/v1/."""

from rest_framework.routers import DefaultRouter

from monitoring.api import reports

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("evaluation-datasets", reports.EvaluationDatasetViewSet, basename="evaluationdataset")
router.register("reports", reports.ReportViewSet, basename="report")
router.register("model-cards", reports.ModelCardViewSet, basename="modelcard")

urlpatterns = [*router.urls]

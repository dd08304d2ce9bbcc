"""REST API routes of the registry app, mounted under /api/v1/."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from registry.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("models", views.RegisteredModelViewSet, basename="registeredmodel")
router.register("versions", views.VersionSearchViewSet, basename="version-search")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("dataset-versions", views.DatasetVersionViewSet, basename="datasetversion")
router.register("training-runs", views.TrainingRunViewSet, basename="trainingrun")

_MODEL = r"models/(?P<name>[A-Za-z0-9_.-]{1,128})"
_VERSION = _MODEL + r"/versions/(?P<version>[0-9]+)"

urlpatterns = [
    *router.urls,
    re_path(rf"^{_MODEL}/aliases/(?P<alias>[A-Za-z0-9_.-]{{1,128}})/$", views.AliasView.as_view(), name="modelalias-detail"),
    re_path(rf"^{_MODEL}/versions/$", views.ModelVersionViewSet.as_view({"get": "list", "post": "create"}), name="modelversion-list"),
    re_path(rf"^{_VERSION}/$", views.ModelVersionViewSet.as_view({"get": "retrieve", "patch": "partial_update"}), name="modelversion-detail"),
    re_path(rf"^{_VERSION}/finalize/$", views.ModelVersionViewSet.as_view({"post": "finalize"}), name="modelversion-finalize"),
    re_path(rf"^{_VERSION}/validate-row/$", views.ModelVersionViewSet.as_view({"post": "validate_row"}), name="modelversion-validate-row"),
    re_path(rf"^{_VERSION}/lineage/$", views.ModelVersionViewSet.as_view({"get": "lineage"}), name="modelversion-lineage"),
    re_path(rf"^{_VERSION}/artifacts/$", views.ArtifactListView.as_view(), name="artifact-list"),
    # Everything after artifacts/ is the file path; the view sanitises it before reading the body.
    re_path(rf"^{_VERSION}/artifacts/(?P<path>.+)$", views.ArtifactView.as_view(), name="artifact-detail"),
]


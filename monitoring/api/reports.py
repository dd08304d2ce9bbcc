"""REST API for evaluation datasets, reports, what-if and model cards (for CI and the portal).

Thin: parse, look up through the selectors (restricted: another team's objects
are 404), call a service, shape the answer. No model is ever loaded here.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer, StaticHTMLRenderer
from rest_framework.response import Response

from modelgate.api.parsers import JSONParser
from modelgate.api.viewsets import RestrictedViewSetMixin
from modelgate.core import access_log
from modelgate.core.errors import ApplicationError, NotFoundError
from modelgate.core.models import Job
from modelgate.core.permissions import restrict
from monitoring.api import report_serializers as s
from monitoring.models import EvaluationDataset, ModelCard, Report
from monitoring.selectors import reports as selectors
from monitoring.services import reports as services
from registry import selectors as registry_selectors
from registry.models import Artifact, ModelVersion
from registry.storage import iter_chunks

VERSION_FILTERS = [
    OpenApiParameter("model", OpenApiTypes.STR, description="Registered model name"),
    OpenApiParameter("version", OpenApiTypes.INT, description="Version number (with model)"),
]


def _version_filter(request, queryset, field: str = "version"):
    name = request.query_params.get("model")
    number = request.query_params.get("version")
    if name:
        queryset = queryset.filter(**{f"{field}__registered_model__name": name})
    if number:
        if not number.isdigit():
            raise ApplicationError("version: an integer.", fields={"version": ["an integer"]})
        queryset = queryset.filter(**{f"{field}__version": int(number)})
    return queryset


def _artifact(request, version: ModelVersion, artifact_id, field: str) -> Artifact | None:
    if artifact_id is None:
        return None
    artifact = restrict(Artifact.objects.all(), request.user, "view").filter(pk=artifact_id, version=version).select_related("blob").first()
    if artifact is None:
        raise ApplicationError(f"{field}: no such artifact on this version.", fields={field: ["not an artifact of this version"]})
    return artifact


@extend_schema_view(
    list=extend_schema(summary="Evaluation datasets", parameters=VERSION_FILTERS),
    retrieve=extend_schema(summary="An evaluation dataset"),
)
class EvaluationDatasetViewSet(RestrictedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """CSV/Parquet datasets attached to a version, with their column roles."""

    queryset = EvaluationDataset.objects.all()
    serializer_class = s.EvaluationDatasetSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    ordering = "-id"
    required_perms = {"what_if": ["monitoring.add_report"]}

    def get_queryset(self):
        return _version_filter(self.request, selectors.dataset_list(user=self.request.user)).order_by("-id")

    def get_restrict_action(self):
        return "view"  # writes are checked by the services (team "change" on the model)

    @extend_schema(summary="Attach an evaluation dataset (multipart upload or an existing artifact)", request={"multipart/form-data": s.DatasetAttachSerializer, "application/json": s.DatasetAttachSerializer}, responses={201: s.EvaluationDatasetSerializer})
    def create(self, request):
        data = s.DatasetAttachSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        version = registry_selectors.model_version_get(user=request.user, name=v["model"], version=v["version"])
        upload, reference = v.get("file"), v.get("reference_file")
        dataset = services.evaluationdataset_attach(
            user=request.user, version=version, name=v["name"], feature_columns=v["feature_columns"], label_column=v["label_column"],
            chunks=iter_chunks(upload) if upload is not None else None, artifact=_artifact(request, version, v.get("artifact_id"), "artifact_id"),
            reference_chunks=iter_chunks(reference) if reference is not None else None,
            reference_artifact=_artifact(request, version, v.get("reference_artifact_id"), "reference_artifact_id"),
            data_format=v["data_format"], task=v["task"], prediction_column=v["prediction_column"], sensitive_columns=v["sensitive_columns"],
            positive_label=v["positive_label"], positive_label_meaning=v["positive_label_meaning"], expected_sha256=v.get("sha256"),
        )
        dataset = selectors.dataset_list(user=request.user).get(pk=dataset.pk)
        return Response(s.EvaluationDatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="What-if: predictions and SHAP values before and after changing features",
        description="Runs in the worker; waits briefly. 200 with the result, or 202 with the job to poll at /api/v1/jobs/{id}/.",
        request=s.WhatIfSerializer, responses={200: s.WhatIfResultSerializer, 202: s.WhatIfResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="what-if")
    def what_if(self, request, pk=None):
        dataset = self.get_object()
        data = s.WhatIfSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.whatif_request(
            user=request.user, version=dataset.version, dataset=dataset, changes=data.validated_data["changes"],
            row=data.validated_data.get("row"), row_index=data.validated_data.get("row_index"),
        )
        deadline = time.monotonic() + settings.REPORT_WHATIF_WAIT_SECONDS
        job = Job.objects.get(pk=job.pk)
        while not job.is_finished and time.monotonic() < deadline:
            time.sleep(0.1)
            job = Job.objects.get(pk=job.pk)
        body = {"job_id": job.pk, "status": job.status, "result": job.result, "error": job.error.split("\n\n")[0] if job.error else ""}
        return Response(body, status=status.HTTP_200_OK if job.is_finished else status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="Reports", parameters=[*VERSION_FILTERS, OpenApiParameter("kind", OpenApiTypes.STR), OpenApiParameter("status", OpenApiTypes.STR)]),
    retrieve=extend_schema(summary="A report with its results", responses=s.ReportDetailSerializer),
)
class ReportViewSet(RestrictedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Explainability, fairness and drift reports: request, poll status and progress, fetch results and figures."""

    queryset = Report.objects.all()
    serializer_class = s.ReportSerializer
    ordering = "-id"

    def get_queryset(self):
        if self.action == "list":
            queryset = selectors.report_list(user=self.request.user, kind=self.request.query_params.get("kind") or None,
                                             status=self.request.query_params.get("status") or None)
            return _version_filter(self.request, queryset).order_by("-id")
        return restrict(Report.objects.all(), self.request.user, "view").select_related("job", "version__registered_model", "dataset")

    def get_restrict_action(self):
        return "view"

    def get_serializer_class(self):
        return s.ReportDetailSerializer if self.action == "retrieve" else s.ReportSerializer

    @extend_schema(
        summary="Request a report (or reuse the stored one computed from the same inputs)",
        request=s.ReportRequestSerializer,
        responses={202: s.ReportSerializer, 200: OpenApiResponse(s.ReportSerializer, description="An existing report with the same inputs")},
    )
    def create(self, request):
        data = s.ReportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        dataset = selectors.dataset_list(user=request.user).filter(pk=v["dataset"]).first()
        if dataset is None:
            raise NotFoundError("Evaluation dataset not found.", fields={"dataset": ["not found"]})
        report, created = services.report_request(user=request.user, version=dataset.version, dataset=dataset, kind=v["kind"], parameters=v["parameters"], seed=v["seed"])
        report = selectors.report_get(user=request.user, pk=report.pk)
        return Response(s.ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(summary="A report's plotly figures (figure id → figure JSON)", responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def figures(self, request, pk=None):
        return Response(self.get_object().figures or {})


class ModelCardViewSet(RestrictedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Model cards (Model Card Toolkit fields), looked up by model version id."""

    queryset = ModelCard.objects.all()
    serializer_class = s.ModelCardSerializer
    lookup_field = "version_id"
    lookup_url_kwarg = "version_id"
    lookup_value_regex = r"[0-9]+"
    required_perms = {"generate": ["monitoring.add_modelcard"], "partial_update": ["monitoring.change_modelcard"]}

    def get_queryset(self):
        return restrict(ModelCard.objects.all(), self.request.user, "view").select_related("version__registered_model__team").prefetch_related("source_reports")

    def get_restrict_action(self):
        return "view"

    @extend_schema(summary="Edit the parts of a model card a person writes", request=s.ModelCardUpdateSerializer, responses={200: s.ModelCardSerializer})
    def partial_update(self, request, version_id=None):
        card = self.get_object()
        data = s.ModelCardUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.modelcard_update(user=request.user, card=card, authored=data.validated_data["authored"])
        return Response(s.ModelCardSerializer(self.get_queryset().get(pk=card.pk)).data)

    @extend_schema(summary="Generate (or refresh) a version's model card from the registry and its latest reports", request=None, responses={200: s.ModelCardSerializer})
    @action(detail=True, methods=["post"])
    def generate(self, request, version_id=None):
        version = restrict(ModelVersion.objects.all(), request.user, "view").filter(pk=version_id).first()
        if version is None:
            raise NotFoundError("Model version not found.")
        card = services.modelcard_generate(user=request.user, version=version)
        return Response(s.ModelCardSerializer(self.get_queryset().get(pk=card.pk)).data)

    @extend_schema(summary="The model card as a standalone HTML document", responses={(200, "text/html"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="html", renderer_classes=[StaticHTMLRenderer, JSONRenderer])
    def html(self, request, version_id=None):
        from monitoring.reports.modelcard import merge

        card = self.get_object()
        body = render_to_string("monitoring/model_card.html", {"card": merge(card.generated, card.authored), "object": card})
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="model-card-{card.version_id}.html"'
        access_log.record(kind="model_card", obj=card, model=card.version.registered_model, user=request.user,
                          detail={"format": "html", "bytes": len(response.content)})
        return response

"""REST API of SLA monitoring. Thin: parse, look up through restricted selectors
(another team's objects answer 404), call a service, shape the answer."""

from __future__ import annotations

from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from modelgate.api.viewsets import ViewScopedLookupMixin, parse_input
from modelgate.core.errors import ApplicationError, NotFoundError, PayloadTooLargeError
from monitoring.telemetry import selectors, services
from monitoring.telemetry.api import serializers as s
from monitoring.telemetry.filtersets import AlertFilterSet, DataTestFilterSet, SlaRuleFilterSet
from monitoring.telemetry.models import Alert, DataTest, SlaRule

ERRORS = {code: OpenApiResponse(description="Error envelope {error: {code, message, fields}}")
          for code in (400, 401, 403, 404, 409, 413)}
_READ_TELEMETRY = ["telemetry.view_hourbucket"]



def _check_body_size(request) -> None:
    limit = getattr(settings, "TELEMETRY_MAX_BODY_BYTES", 32 * 1024 * 1024)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise PayloadTooLargeError(f"The body is larger than {limit} bytes; send smaller batches.")


def _batch_body(request, key: str):
    """The raw batch, parsed by DRF's JSON parser but validated by the service."""
    _check_body_size(request)
    data = request.data
    if not isinstance(data, dict):
        raise ApplicationError("The body is a JSON object.", fields={key: ["Send {\"" + key + "\": [...]}."]})
    deployment = data.get("deployment")
    if deployment is not None and (not isinstance(deployment, int) or isinstance(deployment, bool)):
        raise ApplicationError("deployment: an integer id.", fields={"deployment": ["An integer id."]})
    return data.get(key), deployment


class EventIngestView(APIView):
    """Batch ingestion for serving systems: token-authenticated, all-or-nothing, idempotent per event id."""

    required_perms = {"POST": ["telemetry.add_predictionevent"]}

    @extend_schema(
        summary="Post a batch of prediction events (≤ 10,000; duplicates ignored; one bad event rejects the batch)",
        request=s.EventBatchInput, responses={200: s.IngestResult, **ERRORS},
    )
    def post(self, request):
        events, deployment = _batch_body(request, "events")
        result = services.events_ingest(user=request.user, events=events, deployment=deployment)
        return Response(result)


class GroundTruthIngestView(APIView):
    """Realised labels, joined to events by event id whenever they arrive."""

    required_perms = {"POST": ["telemetry.add_groundtruth"]}

    @extend_schema(summary="Post ground truth for earlier events (≤ 10,000; duplicates ignored)",
                   request=s.LabelBatchInput, responses={200: s.LabelResult, **ERRORS})
    def post(self, request):
        labels, deployment = _batch_body(request, "labels")
        return Response(services.ground_truth_ingest(user=request.user, labels=labels, deployment=deployment))


@extend_schema_view(
    list=extend_schema(summary="SLA rules", responses={200: s.SlaRuleSerializer(many=True)}),
    retrieve=extend_schema(summary="An SLA rule with its evaluation state", responses={200: s.SlaRuleSerializer, **ERRORS}),
)
class SlaRuleViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """SLA/KPI rules: a condition held for `for_count` evaluations fires (Prometheus semantics), or an SLO burn rate."""

    queryset = SlaRule.objects.all()
    serializer_class = s.SlaRuleSerializer
    filterset_class = SlaRuleFilterSet
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return selectors.rules_for(self.request.user).order_by("-id")

    def _fresh(self, rule):
        return selectors.rules_for(self.request.user).get(pk=rule.pk)

    @extend_schema(summary="Create an SLA rule", request=s.SlaRuleInput, responses={201: s.SlaRuleSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.SlaRuleInput, request)
        deployment = selectors.deployments_for(request.user).filter(pk=data.pop("deployment")).first()
        if deployment is None:
            raise NotFoundError("No such deployment.", fields={"deployment": ["No deployment with this id is visible to you."]})
        rule = services.sla_rule_create(user=request.user, deployment=deployment, **data)
        return Response(s.SlaRuleSerializer(self._fresh(rule)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Edit an SLA rule", request=s.SlaRuleUpdateInput, responses={200: s.SlaRuleSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        rule = self.get_object()
        data = parse_input(s.SlaRuleUpdateInput, request, partial=True)
        rule = services.sla_rule_update(user=request.user, rule=rule, data=data)
        return Response(s.SlaRuleSerializer(self._fresh(rule)).data)

    @extend_schema(summary="Delete an SLA rule (no open alert)", responses={204: None, **ERRORS})
    def destroy(self, request, pk=None):
        services.sla_rule_delete(user=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Alerts (one per breach episode)", responses={200: s.AlertSerializer(many=True)}),
    retrieve=extend_schema(summary="An alert", responses={200: s.AlertSerializer, **ERRORS}),
)
class AlertViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """open → acknowledged → resolved; the evaluator resolves an alert when its metric recovers."""

    queryset = Alert.objects.all()
    serializer_class = s.AlertSerializer
    filterset_class = AlertFilterSet
    filter_backends = [DjangoFilterBackend]
    required_perms = {"acknowledge": ["telemetry.change_alert"], "resolve": ["telemetry.change_alert"]}

    def get_queryset(self):
        return selectors.alerts_for(self.request.user).order_by("-id")

    def _fresh(self, alert):
        return selectors.alerts_for(self.request.user).get(pk=alert.pk)

    @extend_schema(summary="Acknowledge (someone is on it)", request=s.AcknowledgeInput, responses={200: s.AlertSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        data = parse_input(s.AcknowledgeInput, request)
        alert = services.alert_acknowledge(user=request.user, alert=self.get_object(), **data)
        return Response(s.AlertSerializer(self._fresh(alert)).data)

    @extend_schema(summary="Resolve by hand (say how)", request=s.ResolveInput, responses={200: s.AlertSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = parse_input(s.ResolveInput, request)
        alert = services.alert_resolve(user=request.user, alert=self.get_object(), **data)
        return Response(s.AlertSerializer(self._fresh(alert)).data)


@extend_schema_view(
    list=extend_schema(summary="Data tests run on incoming batches", responses={200: s.DataTestSerializer(many=True)}),
    retrieve=extend_schema(summary="A data test and its last result", responses={200: s.DataTestSerializer, **ERRORS}),
)
class DataTestViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = DataTest.objects.all()
    serializer_class = s.DataTestSerializer
    filterset_class = DataTestFilterSet
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return selectors.data_tests_for(self.request.user).order_by("-id")

    @extend_schema(summary="Add a data test (null rate, type, range, allowed values; with a tolerance)",
                   request=s.DataTestInput, responses={201: s.DataTestSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.DataTestInput, request)
        deployment = selectors.deployments_for(request.user).filter(pk=data.pop("deployment")).first()
        if deployment is None:
            raise NotFoundError("No such deployment.", fields={"deployment": ["No deployment with this id is visible to you."]})
        test = services.data_test_create(user=request.user, deployment=deployment, **data)
        return Response(s.DataTestSerializer(self.get_queryset().get(pk=test.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Remove a data test", responses={204: None, **ERRORS})
    def destroy(self, request, pk=None):
        services.data_test_delete(user=request.user, test=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


_RANGE = OpenApiParameter("range", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(selectors.RANGES),
                          description="Time range; ≤ 6 h reads minute buckets, longer ranges hour buckets.")


def _range(request, default: str) -> str:
    value = request.query_params.get("range", default)
    if value not in selectors.RANGES:
        raise ApplicationError("Unknown range.", fields={"range": [f"One of {', '.join(selectors.RANGES)}."]})
    return value


class DashboardView(APIView):
    required_perms = {"GET": _READ_TELEMETRY}

    @extend_schema(summary="Dashboard data of a deployment (from rollups)", parameters=[_RANGE],
                   responses={200: s.DashboardSerializer, **ERRORS})
    def get(self, request, pk: int):
        deployment = selectors.deployment_for(request.user, pk)
        return Response(s.DashboardSerializer(selectors.dashboard(deployment, _range(request, selectors.DEFAULT_RANGE))).data)


class CanaryView(APIView):
    required_perms = {"GET": _READ_TELEMETRY}

    @extend_schema(summary="Side-by-side versions of a split deployment", parameters=[_RANGE],
                   responses={200: s.CanarySerializer, **ERRORS})
    def get(self, request, pk: int):
        deployment = selectors.deployment_for(request.user, pk)
        return Response(s.CanarySerializer(selectors.canary(deployment, _range(request, "6h"))).data)


class OverviewView(APIView):
    required_perms = {"GET": _READ_TELEMETRY}

    @extend_schema(
        summary="Active deployments of an environment and their state (healthy / breaching / alerting / no data)",
        parameters=[OpenApiParameter("environment", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Default prod.")],
        responses={200: s.OverviewRowSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        rows = selectors.overview(request.user, request.query_params.get("environment", "prod"))
        return Response(s.OverviewRowSerializer(rows, many=True).data)

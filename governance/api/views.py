"""REST API of governance. Thin: parse input, look objects up through restricted
selectors (another team's objects answer 404), call a service, shape the answer."""

from __future__ import annotations

import csv
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from governance import selectors, services
from governance.api import serializers as s
from governance.filtersets import (
    AuditEventFilterSet,
    CITestResultFilterSet,
    DeploymentFilterSet,
    PromotionRequestFilterSet,
    VersionLifecycleFilterSet,
    WebhookDeliveryFilterSet,
)
from governance.models import (
    CITestResult,
    Deployment,
    Environment,
    PromotionRequest,
    VersionLifecycle,
    Webhook,
    WebhookAllowedAddress,
    WebhookDelivery,
)
from modelgate.api.viewsets import ViewScopedLookupMixin, parse_input
from modelgate.core.audit import HASHED_FIELDS, HASHED_WHEN_SET, verify_chain
from modelgate.core.errors import ApplicationError, NotFoundError
from modelgate.core.models import AuditEvent, Team
from modelgate.core.permissions import restrict
from modelgate.core.readable import export_filename
from registry.models import ModelVersion, RegisteredModel

ERRORS = {code: OpenApiResponse(description="Error envelope {error: {code, message, fields}}") for code in (400, 401, 403, 404, 409)}

_VIEW_REQUEST = ["governance.view_promotionrequest"]
_CHANGE_REQUEST = ["governance.change_promotionrequest"]


def _visible_version(user, version_id: int) -> ModelVersion:
    version = (
        restrict(ModelVersion.objects.select_related("registered_model__team"), user, "view").filter(pk=version_id).first()
    )
    if version is None:
        raise NotFoundError("No such version.", fields={"version_id": ["No version with this id is visible to you."]})
    return version


def _environment(slug: str) -> Environment:
    env = Environment.objects.filter(slug=slug).first()
    if env is None:
        raise ApplicationError("Unknown environment.", fields={"environment": [f"No environment {slug!r}."]})
    return env



# --- environments -------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Environments and their policies", responses={200: s.EnvironmentSerializer(many=True)}),
    retrieve=extend_schema(summary="An environment and its policy", responses={200: s.EnvironmentSerializer, **ERRORS}),
)
class EnvironmentViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Environment.objects.order_by("order")
    serializer_class = s.EnvironmentSerializer
    lookup_field = "slug"
    pagination_class = None

    @extend_schema(summary="Edit an environment's policy (admins; audited)", request=s.EnvironmentPolicyInput,
                   responses={200: s.EnvironmentSerializer, **ERRORS})
    def partial_update(self, request, slug=None):
        env = self.get_object()
        data = parse_input(s.EnvironmentPolicyInput, request, partial=True)
        env = services.environment_update_policy(user=request.user, environment=env, data=dict(data))
        return Response(s.EnvironmentSerializer(env).data)


# --- promotion requests -------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Promotion requests", responses={200: s.PromotionRequestSerializer(many=True)}),
    retrieve=extend_schema(summary="A promotion request with its evidence and approvals",
                           responses={200: s.PromotionRequestSerializer, **ERRORS}),
)
class PromotionRequestViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A request to put a version into an environment: draft → pending → approved | rejected |
    cancelled | expired → deployed. Illegal transitions answer 409 saying why."""

    queryset = PromotionRequest.objects.all()
    serializer_class = s.PromotionRequestSerializer
    filterset_class = PromotionRequestFilterSet
    filter_backends = [DjangoFilterBackend]
    required_perms = {
        "inbox": _VIEW_REQUEST,
        "gates": _VIEW_REQUEST,
        "partial_update": _CHANGE_REQUEST,
        "submit": _CHANGE_REQUEST,
        "cancel": _CHANGE_REQUEST,
        "deploy": [*_CHANGE_REQUEST, "governance.add_deployment"],
        "approve": ["governance.approve_promotionrequest"],
        "reject": ["governance.approve_promotionrequest"],
        "decide_override": ["governance.approve_override"],
    }

    def get_queryset(self):
        return selectors.promotion_request_list(self.request.user)

    def _fresh(self, req):
        return selectors.promotion_request_list(self.request.user).get(pk=req.pk)

    @extend_schema(summary="Open a promotion request (draft)", request=s.PromotionRequestCreateInput,
                   responses={201: s.PromotionRequestSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.PromotionRequestCreateInput, request)
        version = _visible_version(request.user, data["version_id"])
        req = services.promotion_request_create(
            user=request.user, version=version, environment=_environment(data["environment"]),
            reason=data["reason"], justification=data["justification"],
        )
        return Response(s.PromotionRequestSerializer(self._fresh(req)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Edit a draft's reason or justification", request=s.PromotionRequestUpdateInput,
                   responses={200: s.PromotionRequestSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        data = parse_input(s.PromotionRequestUpdateInput, request)
        req = services.promotion_request_update(user=request.user, request=self.get_object(), **data)
        return Response(s.PromotionRequestSerializer(self._fresh(req)).data)

    @extend_schema(summary="Requests waiting for a decision in one of your roles",
                   responses={200: s.PromotionRequestSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def inbox(self, request):
        return Response(s.PromotionRequestSerializer(selectors.inbox_for_user(request.user), many=True).data)

    @extend_schema(summary="Evaluate the gates now (preview; nothing is stored)",
                   request=None, responses={200: s.GateEvaluationSerializer, **ERRORS})
    @action(detail=True, methods=["get"])
    def gates(self, request, pk=None):
        req = self.get_object()
        return Response(services.gates_evaluate(version=req.version, environment=req.environment, request=req))

    def _act(self, func, input_class=None, **extra):
        req = self.get_object()
        data = parse_input(input_class, self.request) if input_class else {}
        result = func(user=self.request.user, request=req, **data, **extra)
        return Response(s.PromotionRequestSerializer(self._fresh(req if result is None else result)).data)

    @extend_schema(summary="Submit: evaluate the gates, freeze the evidence, ask the approvers",
                   request=None, responses={200: s.PromotionRequestSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._act(services.promotion_request_submit)

    @extend_schema(summary="Approve in one of your roles (comment required)", request=s.DecisionInput,
                   responses={200: s.PromotionRequestSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._act(services.promotion_request_approve, s.DecisionInput)

    @extend_schema(summary="Reject (comment required)", request=s.DecisionInput,
                   responses={200: s.PromotionRequestSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._act(services.promotion_request_reject, s.DecisionInput)

    @extend_schema(summary="Risk officer: approve or refuse the justification overriding a gate",
                   request=s.OverrideDecisionInput, responses={200: s.PromotionRequestSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="decide-override")
    def decide_override(self, request, pk=None):
        return self._act(services.promotion_override_decide, s.OverrideDecisionInput)

    @extend_schema(summary="Cancel", request=s.CommentInput, responses={200: s.PromotionRequestSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(services.promotion_request_cancel, s.CommentInput)

    @extend_schema(summary="Deploy an approved request (gates evaluated again first)", request=s.DeployInput,
                   responses={201: s.DeploymentSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def deploy(self, request, pk=None):
        req = self.get_object()
        data = parse_input(s.DeployInput, request)
        deployment = services.promotion_request_deploy(user=request.user, request=req, **data)
        deployment = selectors.deployment_list(request.user).get(pk=deployment.pk)
        return Response(s.DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


# --- deployments --------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Deployments (history included)", responses={200: s.DeploymentSerializer(many=True)}),
    retrieve=extend_schema(summary="A deployment", responses={200: s.DeploymentSerializer, **ERRORS}),
)
class DeploymentViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Which versions serve a model in an environment, since when, by whose approval."""

    queryset = Deployment.objects.all()
    serializer_class = s.DeploymentSerializer
    filterset_class = DeploymentFilterSet
    filter_backends = [DjangoFilterBackend]
    required_perms = {
        "board": ["governance.view_deployment"],
        "create": ["governance.add_deployment"],
        "rollback": ["governance.rollback_deployment"],
        "retire": ["governance.add_deployment"],
        "review": ["governance.review_deployment"],
    }

    def get_queryset(self):
        return selectors.deployment_list(self.request.user)

    def _fresh(self, deployment):
        return selectors.deployment_list(self.request.user).get(pk=deployment.pk)

    @extend_schema(summary="Deploy directly where the policy allows it (Dev); optional A/B or canary split",
                   request=s.DirectDeploymentInput, responses={201: s.DeploymentSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.DirectDeploymentInput, request)
        version = _visible_version(request.user, data["version_id"])
        splits = None
        if data.get("splits"):
            splits = [{"version": _visible_version(request.user, item["version_id"]), "weight": item["weight"]}
                      for item in data["splits"]]
        deployment = services.deployment_create_direct(
            user=request.user, version=version, environment=_environment(data["environment"]), splits=splits, note=data["note"],
        )
        return Response(s.DeploymentSerializer(self._fresh(deployment)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Per environment: the active deployment of a model, since when, its split and approvers",
        parameters=[OpenApiParameter("model", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True)],
        responses={200: s.BoardRowSerializer(many=True), **ERRORS},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None, filter_backends=[])
    def board(self, request):
        name = request.query_params.get("model", "")
        model = restrict(RegisteredModel.objects.all(), request.user, "view").filter(name=name).first()
        if model is None:
            raise NotFoundError("No such model.", fields={"model": ["No model with this name is visible to you."]})
        return Response(s.BoardRowSerializer(selectors.environment_board(model), many=True).data)

    @extend_schema(summary="Roll back to the previous deployment", request=s.NoteInput,
                   responses={201: s.DeploymentSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        data = parse_input(s.NoteInput, request)
        restored = services.deployment_rollback(user=request.user, deployment=self.get_object(), **data)
        return Response(s.DeploymentSerializer(self._fresh(restored)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Stop serving (retire the deployment)", request=s.NoteInput,
                   responses={200: s.DeploymentSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        data = parse_input(s.NoteInput, request)
        deployment = services.deployment_retire(user=request.user, deployment=self.get_object(), **data)
        return Response(s.DeploymentSerializer(self._fresh(deployment)).data)

    @extend_schema(summary="Record the periodic review (risk officer)", request=s.RequiredCommentInput,
                   responses={200: s.DeploymentSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        data = parse_input(s.RequiredCommentInput, request)
        deployment = services.deployment_mark_reviewed(user=request.user, deployment=self.get_object(), **data)
        return Response(s.DeploymentSerializer(self._fresh(deployment)).data)


class GovernanceAlertViewSet(viewsets.ViewSet):
    """Overdue periodic reviews and stale approvals, for the models you may see."""

    required_perms = {"list": ["governance.view_deployment"]}

    @extend_schema(summary="Governance alerts", responses={200: s.GovernanceAlertSerializer(many=True)})
    def list(self, request):
        return Response(s.GovernanceAlertSerializer(selectors.governance_alerts(user=request.user), many=True).data)


# --- lifecycle and CI results -------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Version lifecycle states (absent = active)", responses={200: s.VersionLifecycleSerializer(many=True)}),
    retrieve=extend_schema(summary="A version's lifecycle state", responses={200: s.VersionLifecycleSerializer, **ERRORS}),
)
class VersionLifecycleViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = VersionLifecycle.objects.all()
    serializer_class = s.VersionLifecycleSerializer
    filterset_class = VersionLifecycleFilterSet
    filter_backends = [DjangoFilterBackend]
    required_perms = {"create": ["governance.change_versionlifecycle"]}

    def get_queryset(self):
        return selectors.version_lifecycle_list(self.request.user)

    @extend_schema(summary="Retire or archive a version (it can no longer be promoted)", request=s.LifecycleInput,
                   responses={200: s.VersionLifecycleSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.LifecycleInput, request)
        lifecycle = services.version_set_lifecycle(
            user=request.user, version=_visible_version(request.user, data["version_id"]), state=data["state"], reason=data["reason"],
        )
        return Response(s.VersionLifecycleSerializer(selectors.version_lifecycle_list(request.user).get(pk=lifecycle.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="CI test results", responses={200: s.CITestResultSerializer(many=True)}),
    retrieve=extend_schema(summary="A CI test result", responses={200: s.CITestResultSerializer, **ERRORS}),
)
class CITestResultViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """CI posts unit, end-to-end, acceptance (p95 latency) and A/B-comparison results to a version."""

    queryset = CITestResult.objects.all()
    serializer_class = s.CITestResultSerializer
    filterset_class = CITestResultFilterSet
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return selectors.ci_test_result_list(self.request.user)

    @extend_schema(summary="Post a CI test result", request=s.CITestResultInput, responses={201: s.CITestResultSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.CITestResultInput, request)
        version = _visible_version(request.user, data.pop("version_id"))
        result = services.ci_test_result_post(user=request.user, version=version, **data)
        return Response(s.CITestResultSerializer(selectors.ci_test_result_list(request.user).get(pk=result.pk)).data,
                        status=status.HTTP_201_CREATED)


# --- webhooks -----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Webhook subscriptions", responses={200: s.WebhookSerializer(many=True)}),
    retrieve=extend_schema(summary="A webhook subscription", responses={200: s.WebhookSerializer, **ERRORS}),
)
class WebhookViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Webhook.objects.all()
    serializer_class = s.WebhookSerializer

    def get_queryset(self):
        return selectors.webhook_list(self.request.user)

    @extend_schema(summary="Subscribe a URL (checked against SSRF); the secret is shown once",
                   request=s.WebhookInput, responses={201: s.WebhookCreatedSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.WebhookInput, request)
        team = None
        if data.get("team"):
            team = Team.objects.filter(slug=data["team"]).first()
            if team is None:
                raise ApplicationError("Unknown team.", fields={"team": ["No such team."]})
        hook = services.webhook_create(user=request.user, name=data["name"], url=data["url"], events=data["events"], team=team)
        return Response(s.WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a webhook", request=s.WebhookUpdateInput, responses={200: s.WebhookSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        data = parse_input(s.WebhookUpdateInput, request)
        hook = services.webhook_update(user=request.user, webhook=self.get_object(), data=dict(data))
        return Response(s.WebhookSerializer(hook).data)

    @extend_schema(summary="Delete a webhook", responses={204: None, **ERRORS})
    def destroy(self, request, pk=None):
        services.webhook_delete(user=request.user, webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Webhook delivery log (status, attempts, last error)", responses={200: s.WebhookDeliverySerializer(many=True)}),
    retrieve=extend_schema(summary="A webhook delivery", responses={200: s.WebhookDeliverySerializer, **ERRORS}),
)
class WebhookDeliveryViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = WebhookDelivery.objects.all()
    serializer_class = s.WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilterSet
    filter_backends = [DjangoFilterBackend]
    required_perms = {"redeliver": ["governance.change_webhookdelivery"]}

    def get_queryset(self):
        return selectors.webhook_delivery_list(self.request.user)

    @extend_schema(summary="Send a failed delivery again", request=None, responses={200: s.WebhookDeliverySerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = services.webhook_redeliver(user=request.user, delivery=self.get_object())
        return Response(s.WebhookDeliverySerializer(WebhookDelivery.objects.get(pk=delivery.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="Webhook address allow-list", responses={200: s.WebhookAllowedAddressSerializer(many=True)}),
    retrieve=extend_schema(summary="An allow-list entry", responses={200: s.WebhookAllowedAddressSerializer, **ERRORS}),
)
class WebhookAllowedAddressViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Private or loopback networks that webhooks may reach anyway (admins)."""

    queryset = WebhookAllowedAddress.objects.all()
    serializer_class = s.WebhookAllowedAddressSerializer

    @extend_schema(summary="Allow a network", request=s.AllowedAddressInput, responses={201: s.WebhookAllowedAddressSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(s.AllowedAddressInput, request)
        entry = services.webhook_allow_address(user=request.user, **data)
        return Response(s.WebhookAllowedAddressSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Remove an allow-list entry", responses={204: None, **ERRORS})
    def destroy(self, request, pk=None):
        services.webhook_disallow_address(user=request.user, entry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- audit trail --------------------------------------------------------------------

EXPORT_FORMAT_PARAM = OpenApiParameter(
    "file_format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["csv", "json"], description="csv (default) or json"
)
EXPORT_COLUMNS = ("id", *HASHED_FIELDS, *HASHED_WHEN_SET, "prev_hash", "hash")
# Filters named in the export's file name, in this order.
AUDIT_EXPORT_FILTERS = ("model", "actor", "action", "action_prefix", "object_type", "since", "until")


def _csv_rows(queryset):
    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for event in queryset.iterator(chunk_size=2000):
        row = []
        for column in EXPORT_COLUMNS:
            value = getattr(event, column)
            if column == "changes":
                value = json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)
            elif column == "created_at":
                value = value.isoformat()
            row.append("" if value is None else value)
        yield writer.writerow(row)


# The JSON export is an array of event objects (one key per export column), not a string.
AUDIT_EXPORT_JSON = {
    "type": "array",
    "items": {"type": "object", "properties": {column: {} for column in EXPORT_COLUMNS}, "additionalProperties": False},
}


def _json_rows(queryset):
    yield "["
    for index, event in enumerate(queryset.iterator(chunk_size=2000)):
        item = {column: getattr(event, column) for column in EXPORT_COLUMNS}
        yield ("," if index else "") + json.dumps(item, cls=DjangoJSONEncoder, sort_keys=True)
    yield "]"


@extend_schema_view(
    list=extend_schema(summary="Audit trail (filter by time range, model, actor, action)", responses={200: s.AuditEventSerializer(many=True)}),
    retrieve=extend_schema(summary="An audit event", responses={200: s.AuditEventSerializer, **ERRORS}),
)
class AuditEventViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The append-only, hash-chained audit trail (auditors and admins)."""

    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilterSet
    filter_backends = [DjangoFilterBackend]
    required_perms = {"export": ["core.view_auditevent"], "verify": ["core.view_auditevent"]}

    def get_queryset(self):
        return selectors.audit_event_list(self.request.user)

    @extend_schema(summary="Export the filtered trail as CSV or JSON (streamed)",
                   parameters=[EXPORT_FORMAT_PARAM], responses={(200, "text/csv"): OpenApiTypes.STR,
                                                                 (200, "application/json"): AUDIT_EXPORT_JSON})
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request):
        file_format = request.query_params.get("file_format", "csv")
        if file_format not in ("csv", "json"):
            raise ApplicationError("file_format must be csv or json.", fields={"file_format": ["csv or json"]})
        queryset = self.filter_queryset(self.get_queryset()).order_by("id")
        if file_format == "csv":
            response = StreamingHttpResponse(_csv_rows(queryset), content_type="text/csv; charset=utf-8")
        else:
            response = StreamingHttpResponse(_json_rows(queryset), content_type="application/json")
        filters = {key: request.query_params.get(key) for key in AUDIT_EXPORT_FILTERS}
        filters.update({key: (filters[key] or "")[:10] for key in ("since", "until")})  # the day is enough in a name
        response["Content-Disposition"] = f'attachment; filename="{export_filename("modelgate-audit", filters, file_format)}"'
        return response

    @extend_schema(summary="Verify the hash chain; reports the first broken event", responses={200: s.ChainVerificationSerializer})
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None, filter_backends=[])
    def verify(self, request):
        result = verify_chain()
        return Response({"ok": result.ok, "checked": result.checked, "first_broken_id": result.first_broken_id,
                         "reason": result.reason})

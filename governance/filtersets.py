"""Filters shared by the REST API and the portal lists."""

from __future__ import annotations

import django_filters

from governance.choices import DeploymentStatus, LifecycleState, RequestState, TestKind
from governance.models import CITestResult, Deployment, PromotionRequest, VersionLifecycle, WebhookDelivery
from modelgate.core.models import AuditEvent


class PromotionRequestFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=RequestState.choices)
    environment = django_filters.CharFilter(field_name="environment__slug")
    model = django_filters.CharFilter(field_name="version__registered_model__name")
    version_id = django_filters.NumberFilter(field_name="version_id")
    requested_by = django_filters.CharFilter(field_name="requested_by__username")

    class Meta:
        model = PromotionRequest
        fields = ["state", "environment", "model", "version_id", "requested_by"]


class DeploymentFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeploymentStatus.choices)
    environment = django_filters.CharFilter(field_name="environment__slug")
    model = django_filters.CharFilter(field_name="registered_model__name")
    version_id = django_filters.NumberFilter(field_name="splits__version_id", distinct=True)

    class Meta:
        model = Deployment
        fields = ["status", "environment", "model", "version_id"]


class CITestResultFilterSet(django_filters.FilterSet):
    version_id = django_filters.NumberFilter(field_name="version_id")
    model = django_filters.CharFilter(field_name="version__registered_model__name")
    kind = django_filters.ChoiceFilter(choices=TestKind.choices)
    passed = django_filters.BooleanFilter()

    class Meta:
        model = CITestResult
        fields = ["version_id", "model", "kind", "passed"]


class VersionLifecycleFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=LifecycleState.choices)
    model = django_filters.CharFilter(field_name="version__registered_model__name")

    class Meta:
        model = VersionLifecycle
        fields = ["state", "model"]


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    class Meta:
        model = WebhookDelivery
        fields = ["webhook", "status", "event"]


class AuditEventFilterSet(django_filters.FilterSet):
    """Time range, model, actor and action, as the auditor's export asks."""

    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    model = django_filters.CharFilter(field_name="model_name")
    # The model's whole history, across renames (the name alone also matches a later model of that name).
    model_id = django_filters.NumberFilter(field_name="registered_model_id")
    actor = django_filters.CharFilter(field_name="actor_username")
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    team = django_filters.CharFilter(field_name="team_slug")
    source = django_filters.CharFilter(field_name="source")

    class Meta:
        model = AuditEvent
        fields = ["since", "until", "model", "model_id", "actor", "action", "action_prefix", "object_type", "object_id", "team", "source"]

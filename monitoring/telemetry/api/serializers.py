"""API shapes of SLA monitoring. Telemetry batches are validated by the service in
one pass (a serializer per event would cost more than the insert); the event
serializers here document the shape in the OpenAPI schema."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitoring.telemetry.choices import (
    BurnPolicy,
    DataTestKind,
    EventStatus,
    Metric,
    RuleKind,
    Severity,
    TestSeverity,
    ValueType,
)
from monitoring.telemetry.models import Alert, DataTest, SlaRule


class EventDoc(serializers.Serializer):
    event_id = serializers.CharField(max_length=64, help_text="Unique per deployment; a re-sent id is ignored.")
    timestamp = serializers.DateTimeField(help_text="ISO 8601 with offset, or epoch seconds.")
    deployment = serializers.IntegerField(required=False, help_text="Defaults to the batch's deployment.")
    version = serializers.IntegerField(required=False, help_text="Version number that served it (required for split deployments).")
    latency_ms = serializers.FloatField(min_value=0)
    status = serializers.ChoiceField(choices=EventStatus.choices, required=False, default=EventStatus.OK)
    prediction = serializers.JSONField(required=False, allow_null=True)
    score = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1,
                                   help_text="Probability of the positive class (AUC, drift).")
    features = serializers.DictField(required=False, allow_null=True)


class EventBatchInput(serializers.Serializer):
    deployment = serializers.IntegerField(required=False)
    events = EventDoc(many=True, help_text="1 to 10,000 events; one bad event rejects the whole batch.")


class DataTestOutcome(serializers.Serializer):
    test = serializers.IntegerField()
    field = serializers.CharField()
    kind = serializers.CharField()
    checked = serializers.IntegerField()
    failed = serializers.IntegerField()
    passed = serializers.BooleanField()
    severity = serializers.CharField()


class IngestResult(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    data_tests = DataTestOutcome(many=True)


class LabelDoc(serializers.Serializer):
    event_id = serializers.CharField(max_length=64)
    deployment = serializers.IntegerField(required=False)
    label = serializers.JSONField(help_text="Number, string or boolean.")


class LabelBatchInput(serializers.Serializer):
    deployment = serializers.IntegerField(required=False)
    labels = LabelDoc(many=True)


class LabelResult(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    matched_events = serializers.IntegerField()


class SlaRuleSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="deployment.registered_model.name", read_only=True)
    environment = serializers.CharField(source="deployment.environment.slug", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    condition = serializers.CharField(read_only=True)

    class Meta:
        model = SlaRule
        fields = [
            "id", "deployment", "model", "environment", "name", "kind", "metric", "threshold", "condition",
            "window_minutes", "for_count", "keep_firing_for_minutes", "objective", "burn_policy", "min_events",
            "severity", "owner", "runbook_url", "runbook", "is_active", "state", "consecutive_breaches", "last_value",
            "last_evaluated_at", "episode_alert", "created_at", "updated_at",
        ]
        read_only_fields = fields


class SlaRuleInput(serializers.Serializer):
    deployment = serializers.IntegerField()
    name = serializers.CharField(max_length=128)
    kind = serializers.ChoiceField(choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    metric = serializers.ChoiceField(choices=Metric.choices)
    threshold = serializers.FloatField()
    window_minutes = serializers.IntegerField(min_value=1, required=False)
    for_count = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    keep_firing_for_minutes = serializers.IntegerField(min_value=0, required=False)
    objective = serializers.FloatField(required=False, allow_null=True)
    burn_policy = serializers.ChoiceField(choices=BurnPolicy.choices, required=False, allow_blank=True)
    min_events = serializers.IntegerField(min_value=1, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    owner = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(is_active=True),
                                         required=False, help_text="Username; defaults to you.")
    runbook_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    runbook = serializers.CharField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class SlaRuleUpdateInput(SlaRuleInput):
    deployment = None


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    model = serializers.CharField(source="deployment.registered_model.name", read_only=True)
    environment = serializers.CharField(source="deployment.environment.slug", read_only=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, default=None)
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, default=None,
                                        help_text="Empty when the metric recovered on its own.")

    class Meta:
        model = Alert
        fields = [
            "id", "rule", "rule_name", "deployment", "model", "environment", "state", "severity", "summary",
            "value_at_open", "last_value", "opened_at", "acknowledged_at", "acknowledged_by", "resolved_at",
            "resolved_by", "resolution",
        ]
        read_only_fields = fields


class AcknowledgeInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ResolveInput(serializers.Serializer):
    resolution = serializers.CharField(help_text="How it was resolved.")


class DataTestSerializer(serializers.ModelSerializer):
    last_passed = serializers.BooleanField(read_only=True, allow_null=True)
    last_failed = serializers.IntegerField(read_only=True, allow_null=True)
    last_checked = serializers.IntegerField(read_only=True, allow_null=True)
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = DataTest
        fields = ["id", "deployment", "field", "kind", "value_type", "min_value", "max_value", "allowed_values",
                  "tolerance", "severity", "created_at", "last_passed", "last_failed", "last_checked", "last_run_at"]
        read_only_fields = fields


class DataTestInput(serializers.Serializer):
    deployment = serializers.IntegerField()
    field = serializers.CharField(max_length=128)
    kind = serializers.ChoiceField(choices=DataTestKind.choices)
    value_type = serializers.ChoiceField(choices=ValueType.choices, required=False, allow_blank=True)
    min_value = serializers.FloatField(required=False, allow_null=True)
    max_value = serializers.FloatField(required=False, allow_null=True)
    allowed_values = serializers.ListField(child=serializers.JSONField(), required=False)
    tolerance = serializers.FloatField(min_value=0, max_value=1, required=False)
    severity = serializers.ChoiceField(choices=TestSeverity.choices, required=False)


class PointSerializer(serializers.Serializer):
    t = serializers.DateTimeField()
    count = serializers.IntegerField()
    throughput = serializers.FloatField(help_text="Events per minute.")
    error_rate = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)
    labeled = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    f1 = serializers.FloatField(allow_null=True)
    auc = serializers.FloatField(allow_null=True)
    rmse = serializers.FloatField(allow_null=True)
    label_lag_s = serializers.FloatField(allow_null=True)
    psi = serializers.FloatField(allow_null=True)


@extend_schema_field(PointSerializer(many=True))
class PointsField(serializers.Field):
    """The points are built from primitives by the selector: passed through as they are
    (a field-by-field serializer over 720 points would cost more than reading them)."""

    def to_representation(self, value):
        return value


class DashboardSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(source="deployment.pk")
    model = serializers.CharField(source="deployment.registered_model.name")
    environment = serializers.CharField(source="deployment.environment.slug")
    range = serializers.CharField()
    state = serializers.CharField()
    points = PointsField(read_only=True)
    rules = SlaRuleSerializer(many=True)
    open_alerts = AlertSerializer(many=True)
    compliance = serializers.JSONField(help_text="{rules, daily: [{period, rules: {id: %}}], weekly: [...]}")


class OverviewRowSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(source="pk")
    model = serializers.CharField(source="registered_model.name")
    team = serializers.CharField(source="registered_model.team.slug")
    environment = serializers.CharField(source="environment.slug")
    state = serializers.CharField(source="health")
    open_alerts = serializers.IntegerField(source="open_alert_count", default=0)
    rule_count = serializers.IntegerField()
    last_data_at = serializers.DateTimeField(allow_null=True)
    versions = serializers.SerializerMethodField()

    def get_versions(self, obj) -> list[dict]:
        return [{"version": s.version.version, "weight": s.weight} for s in obj.splits.all()]


class CanaryVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    weight = serializers.IntegerField()
    count = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True)
    auc = serializers.FloatField(allow_null=True)
    labeled = serializers.IntegerField()
    p95_series = serializers.JSONField()


class CanarySerializer(serializers.Serializer):
    deployment = serializers.IntegerField(source="deployment.pk")
    range = serializers.CharField()
    versions = CanaryVersionSerializer(many=True)

"""Output serializers (one per resource) and separate input serializers for writes and actions."""

from __future__ import annotations

from rest_framework import serializers

from governance.choices import LifecycleState, TestKind, WebhookEvent
from governance.models import (
    Approval,
    CITestResult,
    Deployment,
    DeploymentSplit,
    Environment,
    PromotionRequest,
    VersionLifecycle,
    Webhook,
    WebhookAllowedAddress,
    WebhookDelivery,
)
from modelgate.core import roles
from modelgate.core.models import AuditEvent

# --- output -----------------------------------------------------------------------


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = (
            "id", "slug", "name", "order", "description", "direct_deploy_roles", "required_approver_roles", "gates",
            "read_only", "requires_previous_environment", "review_interval_days", "approval_max_age_days",
            "protected_attributes", "requires_risk_assessment", "updated_at",
        )


class ApprovalSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")

    class Meta:
        model = Approval
        fields = ("id", "user", "role", "decision", "comment", "created_at")


class PromotionRequestSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    team = serializers.CharField(source="version.registered_model.team.slug")
    version = serializers.IntegerField(source="version.version")
    version_id = serializers.IntegerField()
    environment = serializers.CharField(source="environment.slug")
    requested_by = serializers.CharField(source="requested_by.username")
    override_decided_by = serializers.CharField(source="override_decided_by.username", allow_null=True, default=None)
    approvals = ApprovalSerializer(many=True, read_only=True)
    required_roles = serializers.ListField(child=serializers.CharField(), source="environment.required_approver_roles")
    missing_roles = serializers.SerializerMethodField()

    class Meta:
        model = PromotionRequest
        fields = (
            "id", "model", "team", "version", "version_id", "environment", "state", "requested_by", "reason",
            "justification", "override_state", "override_decided_by", "override_comment", "evidence",
            "required_roles", "missing_roles", "approvals", "created_at", "submitted_at", "decided_at", "closed_at",
        )

    def get_missing_roles(self, obj) -> list[str]:
        # Uses the prefetched approvals: no query per row.
        approved = {a.role for a in obj.approvals.all() if a.decision == "approved"}
        return [r for r in obj.environment.required_approver_roles if r not in approved]


class SplitSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.version")
    version_id = serializers.IntegerField()

    class Meta:
        model = DeploymentSplit
        fields = ("version", "version_id", "weight")


class DeploymentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    team = serializers.CharField(source="registered_model.team.slug")
    environment = serializers.CharField(source="environment.slug")
    deployed_by = serializers.CharField(source="deployed_by.username", allow_null=True, default=None)
    splits = SplitSerializer(many=True, read_only=True)

    class Meta:
        model = Deployment
        fields = (
            "id", "model", "team", "environment", "status", "splits", "deployed_by", "promotion_request", "previous",
            "note", "created_at", "ended_at", "review_by", "reviewed_at",
        )


class BoardRowSerializer(serializers.Serializer):
    environment = serializers.CharField(source="environment.slug")
    deployment = serializers.IntegerField(source="deployment.pk", allow_null=True, default=None)
    since = serializers.DateTimeField(allow_null=True)
    splits = SplitSerializer(many=True)
    approved_by = ApprovalSerializer(many=True)
    review_by = serializers.DateField(allow_null=True)
    review_overdue = serializers.BooleanField()


class CITestResultSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")
    version_id = serializers.IntegerField()
    posted_by = serializers.CharField(source="posted_by.username", allow_null=True, default=None)

    class Meta:
        model = CITestResult
        fields = ("id", "model", "version", "version_id", "kind", "name", "passed", "metrics", "details_url", "ci_run_id",
                  "posted_by", "created_at")


class VersionLifecycleSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")
    version_id = serializers.IntegerField()
    changed_by = serializers.CharField(source="changed_by.username", allow_null=True, default=None)

    class Meta:
        model = VersionLifecycle
        fields = ("id", "model", "version", "version_id", "state", "reason", "changed_by", "changed_at")


class WebhookSerializer(serializers.ModelSerializer):
    """The secret is never shown again after creation."""

    team = serializers.CharField(source="team.slug", allow_null=True, default=None)

    class Meta:
        model = Webhook
        fields = ("id", "name", "url", "events", "team", "is_active", "created_at")


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="Shown once: verify X-Modelgate-Signature with it.")

    class Meta(WebhookSerializer.Meta):
        fields = (*WebhookSerializer.Meta.fields, "secret")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ("id", "webhook", "event", "payload", "status", "attempts", "next_attempt_at", "last_error",
                  "response_status", "created_at", "delivered_at")


class WebhookAllowedAddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAllowedAddress
        fields = ("id", "network", "note", "created_at")


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "created_at", "actor_id", "actor_username", "token_id", "source", "action", "object_type",
                  "object_id", "object_repr", "team_slug", "model_name", "registered_model_id", "changes", "request_id",
                  "client_ip",
                  "prev_hash", "hash")


class ChainVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField()
    first_broken_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class GateEntrySerializer(serializers.Serializer):
    index = serializers.IntegerField()
    kind = serializers.CharField()
    label = serializers.CharField()
    params = serializers.DictField()
    passed = serializers.BooleanField()
    message = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    threshold = serializers.JSONField(allow_null=True)
    evidence = serializers.DictField()
    needs_review = serializers.BooleanField()
    overridden = serializers.BooleanField()
    override_pending = serializers.BooleanField()


class GateEvaluationSerializer(serializers.Serializer):
    evaluated_at = serializers.CharField()
    version_id = serializers.IntegerField()
    environment = serializers.CharField()
    passed = serializers.BooleanField()
    override_needed = serializers.BooleanField()
    gates = GateEntrySerializer(many=True)


class GovernanceAlertSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="review_overdue or approval_stale")
    severity = serializers.CharField()
    title = serializers.CharField()
    message = serializers.CharField()
    model = serializers.CharField()
    team = serializers.CharField()
    environment = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.IntegerField()
    due = serializers.CharField()


# --- input ------------------------------------------------------------------------


class PromotionRequestCreateInput(serializers.Serializer):
    version_id = serializers.IntegerField()
    environment = serializers.SlugField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    justification = serializers.CharField(required=False, allow_blank=True, default="",
                                          help_text="Written justification to override an overridable gate.")


class PromotionRequestUpdateInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)
    justification = serializers.CharField(required=False, allow_blank=True)


class DecisionInput(serializers.Serializer):
    comment = serializers.CharField(help_text="Required: why you approve or reject.")
    role = serializers.ChoiceField(choices=roles.ROLES, required=False,
                                   help_text="The role you decide in, if you hold several required roles.")


class OverrideDecisionInput(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField()


class CommentInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RequiredCommentInput(serializers.Serializer):
    comment = serializers.CharField()


class DeployInput(serializers.Serializer):
    canary_weight = serializers.IntegerField(required=False, min_value=1, max_value=99,
                                             help_text="Canary: share of traffic for the new version; the rest stays on the serving one.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class SplitInput(serializers.Serializer):
    version_id = serializers.IntegerField()
    weight = serializers.IntegerField(min_value=1, max_value=100)


class DirectDeploymentInput(serializers.Serializer):
    version_id = serializers.IntegerField()
    environment = serializers.SlugField()
    splits = SplitInput(many=True, required=False,
                        help_text="A/B or canary split over versions of the same model; weights sum to 100.")
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_splits(self, value):
        if value and sum(s["weight"] for s in value) != 100:
            raise serializers.ValidationError("Weights must sum to 100.")
        return value


class NoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class LifecycleInput(serializers.Serializer):
    version_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=LifecycleState.choices)
    reason = serializers.CharField()


class CITestResultInput(serializers.Serializer):
    version_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=TestKind.choices)
    passed = serializers.BooleanField()
    metrics = serializers.DictField(child=serializers.FloatField(), required=False, default=dict)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    details_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    ci_run_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class EnvironmentPolicyInput(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=64)
    description = serializers.CharField(required=False, allow_blank=True)
    direct_deploy_roles = serializers.ListField(child=serializers.ChoiceField(choices=roles.ROLES), required=False)
    required_approver_roles = serializers.ListField(child=serializers.ChoiceField(choices=roles.ROLES), required=False)
    gates = serializers.ListField(child=serializers.DictField(), required=False)
    read_only = serializers.BooleanField(required=False)
    requires_previous_environment = serializers.BooleanField(required=False)
    review_interval_days = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    approval_max_age_days = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    protected_attributes = serializers.ListField(child=serializers.CharField(), required=False)
    requires_risk_assessment = serializers.BooleanField(required=False)


class WebhookInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), required=False, default=list)
    team = serializers.SlugField(required=False, allow_null=True, default=None)


class WebhookUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), required=False)
    is_active = serializers.BooleanField(required=False)


class AllowedAddressInput(serializers.Serializer):
    network = serializers.CharField(max_length=64)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

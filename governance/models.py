"""Governance: environments and their policy, promotion requests with quality
gates and approvals, deployments (with traffic splits), version lifecycle, CI
test results and webhook subscriptions with their delivery outbox."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from governance.choices import (
    Decision,
    DeliveryStatus,
    DeploymentStatus,
    LifecycleState,
    OverrideState,
    RequestState,
    TestKind,
)
from modelgate.core import roles
from registry.models import ModelVersion, RegisteredModel

_MODEL_SCOPE = ("registered_model", "registry.RegisteredModel")
_VERSION_SCOPE = ("version__registered_model", "registry.RegisteredModel")


class Environment(models.Model):
    """A deployment stage and its policy. Environments are data (seeded Dev → UAT
    → Prod); policies are edited by admins only, every edit audited."""

    name = models.CharField(max_length=64, unique=True)
    slug = models.SlugField(max_length=32, unique=True)
    order = models.PositiveSmallIntegerField(unique=True, help_text="Promotion order: lower comes first.")
    description = models.TextField(blank=True)
    direct_deploy_roles = models.JSONField(
        default=list, blank=True, help_text="Roles of the owning team that may deploy without a promotion request."
    )
    required_approver_roles = models.JSONField(
        default=list, blank=True, help_text="Every listed role must approve, each by a different person."
    )
    gates = models.JSONField(default=list, blank=True, help_text='[{"kind": "metric_threshold", "params": {...}}]')
    read_only = models.BooleanField(
        default=False, help_text="Nothing changes here except through an approved promotion (or a rollback to one)."
    )
    requires_previous_environment = models.BooleanField(
        default=False, help_text="A version must have been deployed in the previous environment first."
    )
    review_interval_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Deployments must be reviewed within this many days (model-risk revalidation)."
    )
    approval_max_age_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="An approval older than this expires before deployment."
    )
    protected_attributes = models.JSONField(
        default=list, blank=True, help_text="Input names that must not be model inputs (e.g. gender, ethnicity)."
    )
    requires_risk_assessment = models.BooleanField(
        default=False, help_text="Only models with a risk tier (model-risk inventory) may be promoted here."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        for field in ("direct_deploy_roles", "required_approver_roles"):
            value = getattr(self, field)
            if not isinstance(value, list) or any(role not in roles.ROLES for role in value):
                errors[field] = f"A list of roles among: {', '.join(roles.ROLES)}."
            elif len(set(value)) != len(value):
                errors[field] = "A role may be listed only once."
        if not isinstance(self.gates, list) or any(
            not isinstance(g, dict) or not isinstance(g.get("kind"), str) or not isinstance(g.get("params", {}), dict)
            for g in self.gates
        ):
            errors["gates"] = 'A list of {"kind": "...", "params": {...}} objects.'
        if not isinstance(self.protected_attributes, list) or any(not isinstance(a, str) for a in self.protected_attributes):
            errors["protected_attributes"] = "A list of input names."
        if errors:
            raise ValidationError(errors)

    def previous(self):
        return Environment.objects.filter(order__lt=self.order).order_by("-order").first()


class PromotionRequest(models.Model):
    """A request to put a version into an environment."""

    team_scope = _VERSION_SCOPE

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotion_requests")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="promotion_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.DRAFT, db_index=True)
    reason = models.TextField(blank=True, help_text="Why this version should go to this environment.")
    # Gate results frozen at submission (and replaced at deployment): what the approvers saw.
    evidence = models.JSONField(default=dict, blank=True)
    justification = models.TextField(
        blank=True, help_text="Written justification overriding an overridable gate (protected attribute as input)."
    )
    override_state = models.CharField(max_length=16, choices=OverrideState.choices, default=OverrideState.NONE, blank=True)
    override_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it was approved or rejected.")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was deployed, cancelled or expired.")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("approve_promotionrequest", "Can approve or reject promotion requests"),
            ("approve_override", "Can approve a justification overriding a gate"),
        ]
        indexes = [models.Index(fields=["environment", "state"])]

    def __str__(self):
        return f"#{self.pk} {self.version} → {self.environment.slug} ({self.state})"


class Approval(models.Model):
    """One decision by one person in one role. A role is filled once per request,
    and a person fills at most one role (separation of duties)."""

    team_scope = ("request__version__registered_model", "registry.RegisteredModel")

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "role"], name="governance_one_decision_per_role"),
            models.UniqueConstraint(fields=["request", "user"], name="governance_one_role_per_person"),
        ]

    def __str__(self):
        return f"{self.user} {self.decision} #{self.request_id} as {self.role}"


class Deployment(models.Model):
    """Which versions serve a model in an environment, since when, by whose approval.
    At most one active deployment per (environment, model)."""

    team_scope = _MODEL_SCOPE

    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="deployments")
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="deployments")
    status = models.CharField(max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.ACTIVE, db_index=True)
    deployed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    promotion_request = models.ForeignKey(
        PromotionRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="deployments"
    )
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The deployment this one replaced; a rollback returns to it.",
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    review_by = models.DateField(null=True, blank=True, help_text="Periodic review due date, from the environment policy.")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("rollback_deployment", "Can roll a deployment back"),
            ("review_deployment", "Can record the periodic review of a deployment"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "registered_model"],
                condition=models.Q(status="active"),
                name="governance_one_active_deployment",
            )
        ]

    def __str__(self):
        return f"{self.registered_model.name} in {self.environment.slug} #{self.pk} ({self.status})"


class DeploymentSplit(models.Model):
    """Share of traffic a version receives in a deployment (canary / A-B); weights sum to 100."""

    team_scope = ("deployment__registered_model", "registry.RegisteredModel")

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="splits")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployment_splits")
    weight = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(100)])

    class Meta:
        ordering = ["-weight", "version_id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "version"], name="governance_unique_split_version"),
            models.CheckConstraint(condition=models.Q(weight__gte=1, weight__lte=100), name="governance_split_weight_range"),
        ]

    def __str__(self):
        return f"{self.version} {self.weight}%"


class VersionLifecycle(models.Model):
    """Governance's view of a version's life: retired or archived versions cannot be promoted.
    Absent row = active (kept here, not in registry, so the registry knows nothing of governance)."""

    team_scope = _VERSION_SCOPE

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="lifecycle")
    state = models.CharField(max_length=16, choices=LifecycleState.choices, default=LifecycleState.ACTIVE)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self):
        return f"{self.version}: {self.state}"


class CITestResult(models.Model):
    """A test result posted by CI for a version: unit, end-to-end, acceptance
    (with latency figures) or A/B comparison, with its metrics."""

    team_scope = _VERSION_SCOPE

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="ci_test_results")
    kind = models.CharField(max_length=20, choices=TestKind.choices)
    name = models.CharField(max_length=200, blank=True)
    passed = models.BooleanField()
    metrics = models.JSONField(default=dict, blank=True, help_text='name → number, e.g. {"p95_ms": 41.2}')
    details_url = models.URLField(max_length=500, blank=True)
    ci_run_id = models.CharField(max_length=200, blank=True)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "kind", "-created_at"])]

    def __str__(self):
        return f"{self.version} {self.kind} {'passed' if self.passed else 'failed'}"


class Webhook(models.Model):
    """An integration's subscription to governance events, signed with HMAC-SHA256."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Shared secret for the X-Modelgate-Signature header.")
    events = models.JSONField(default=list, blank=True, help_text="Event names; an empty list means every event.")
    team = models.ForeignKey(
        "core.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks",
        help_text="Only events about this team's models; empty = every team.",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    """Outbox row: written in the same transaction as the change, sent by a Celery task."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} → {self.webhook} ({self.status})"


class WebhookAllowedAddress(models.Model):
    """Admin allow-list: a private/loopback network webhooks may reach anyway (e.g. an internal CI)."""

    network = models.CharField(max_length=64, unique=True, help_text="An IP address or CIDR network, e.g. 10.1.2.0/24")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["network"]
        verbose_name_plural = "webhook allowed addresses"

    def __str__(self):
        return self.network

    def clean(self):
        import ipaddress

        try:
            ipaddress.ip_network(self.network, strict=False)
        except ValueError as exc:
            raise ValidationError({"network": "An IP address or CIDR network."}) from exc


# Model risk management lives in a submodule of governance; its models belong to this app.
from governance.modelrisk.models import (  # noqa: E402, F401
    Finding,
    InventoryRecord,
    ModelDocument,
    TierPolicy,
    TierRequirement,
    Validation,
)

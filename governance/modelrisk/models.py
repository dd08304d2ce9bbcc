"""Model-risk records: inventory with risk tier, tier policies, validations,
findings and model documentation. Imported by ``governance.models`` so Django
sees them as governance models (one app, one migration history)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from governance.modelrisk.choices import (
    ChecklistItem,
    EuAiActCategory,
    FindingState,
    ModelSource,
    Severity,
    Tier,
    ValidationOutcome,
    ValidationState,
)
from modelgate.core import roles
from registry.models import ModelVersion, RegisteredModel

_MODEL_SCOPE = ("registered_model", "registry.RegisteredModel")
_VERSION_SCOPE = ("version__registered_model", "registry.RegisteredModel")


class InventoryRecord(models.Model):
    """The model-inventory entry of one registered model (SR 11-7 inventory), with its
    risk-tier questionnaire. Vendor and spreadsheet models are registered models with a
    record and no versions. ``tier`` is the effective tier: the override, else the computed one."""

    team_scope = _MODEL_SCOPE

    registered_model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="inventory_record")
    purpose = models.TextField(blank=True, help_text="What the model does and why it exists.")
    business_use = models.TextField(blank=True, help_text="The business process and decisions it serves.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="Model owner (first line of defence).")
    accountable_executive = models.CharField(max_length=200, blank=True)
    output_users = models.TextField(blank=True, help_text="Who uses the model's output.")
    source = models.CharField(max_length=16, choices=ModelSource.choices, default=ModelSource.IN_HOUSE)
    vendor = models.CharField(max_length=200, blank=True)
    answers = models.JSONField(default=dict, blank=True, help_text="The risk-tier questionnaire as answered.")
    computed_tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    tier_override = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    override_at = models.DateTimeField(null=True, blank=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True, db_index=True,
                                            help_text="Effective tier: the override, else the computed tier.")
    eu_ai_act_category = models.CharField(max_length=16, choices=EuAiActCategory.choices, blank=True, db_index=True)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    assessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["registered_model__name"]
        permissions = [("override_tier", "Can override a model's risk tier")]

    def __str__(self):
        return f"{self.registered_model.name}: {self.get_tier_display() if self.tier else 'not assessed'}"

    @property
    def assessed(self) -> bool:
        return self.tier is not None


class TierPolicy(models.Model):
    """What a risk tier requires across environments: how long a validation stays current and
    which checklist items a validation covers. Data, edited by administrators (audited)."""

    tier = models.PositiveSmallIntegerField(choices=Tier.choices, unique=True)
    description = models.TextField(blank=True)
    revalidation_interval_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="An approved validation is current for this many days (periodic revalidation).")
    checklist = models.JSONField(default=list, blank=True, help_text="Checklist items a validation of this tier covers.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tier"]
        verbose_name_plural = "tier policies"

    def __str__(self):
        return self.get_tier_display()

    def clean(self):
        if not isinstance(self.checklist, list) or any(item not in ChecklistItem.values for item in self.checklist):
            raise ValidationError({"checklist": f"A list among: {', '.join(ChecklistItem.values)}."})


class TierRequirement(models.Model):
    """What a tier adds to one environment's policy: it only ever adds (extra approver roles,
    gates, required monitoring rules) or shortens (review interval)."""

    policy = models.ForeignKey(TierPolicy, on_delete=models.CASCADE, related_name="requirements")
    environment = models.ForeignKey("governance.Environment", on_delete=models.CASCADE, related_name="tier_requirements")
    extra_approver_roles = models.JSONField(default=list, blank=True, help_text="Roles that must approve in addition.")
    gates = models.JSONField(default=list, blank=True, help_text='[{"kind": "validation_approved", "params": {}}]')
    required_monitoring_rules = models.JSONField(
        default=list, blank=True, help_text='SLA metrics a deployment here must be monitored on, e.g. ["error_rate"].')
    review_interval_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Periodic review interval; the shorter of this and the environment's applies.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy__tier", "environment__order"]
        constraints = [models.UniqueConstraint(fields=["policy", "environment"], name="governance_one_requirement_per_env")]

    def __str__(self):
        return f"{self.policy} in {self.environment}"

    def clean(self):
        errors = {}
        value = self.extra_approver_roles
        if not isinstance(value, list) or any(role not in roles.ROLES for role in value) or len(set(value)) != len(value):
            errors["extra_approver_roles"] = f"A list of distinct roles among: {', '.join(roles.ROLES)}."
        if not isinstance(self.gates, list) or any(
            not isinstance(g, dict) or not isinstance(g.get("kind"), str) or not isinstance(g.get("params", {}), dict)
            for g in self.gates
        ):
            errors["gates"] = 'A list of {"kind": "...", "params": {...}} objects.'
        if not isinstance(self.required_monitoring_rules, list) or any(
            not isinstance(m, str) for m in self.required_monitoring_rules
        ):
            errors["required_monitoring_rules"] = "A list of metric names."
        if errors:
            raise ValidationError(errors)


class Validation(models.Model):
    """An independent validation of one version: scope, checklist, the evidence relied on
    (frozen when signed) and the outcome signed by the validator."""

    team_scope = _VERSION_SCOPE

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="validations")
    validator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, help_text="The model's tier when the validation began.")
    scope = models.TextField()
    checklist = models.JSONField(default=dict, blank=True, help_text='item → {"result": "...", "note": "..."}')
    state = models.CharField(max_length=16, choices=ValidationState.choices, default=ValidationState.IN_PROGRESS,
                             db_index=True)
    outcome = models.CharField(max_length=32, choices=ValidationOutcome.choices, blank=True, default="")
    conditions = models.TextField(blank=True, help_text="Conditions of an approval with conditions.")
    summary = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True, help_text="CI results and reports relied on, frozen at signing.")
    signed_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text="Revalidation due date (from the tier policy).")
    last_overdue_notice = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("sign_validation", "Can sign a validation outcome")]
        indexes = [models.Index(fields=["version", "state", "outcome"])]

    def __str__(self):
        return f"Validation #{self.pk} of {self.version} ({self.outcome or self.state})"


class Finding(models.Model):
    """An issue a validation raised: open → remediation submitted → closed by the validator,
    or risk accepted by a risk officer with a reason and an expiry."""

    team_scope = _MODEL_SCOPE

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="findings")
    validation = models.ForeignKey(Validation, null=True, blank=True, on_delete=models.PROTECT, related_name="findings")
    versions = models.ManyToManyField(ModelVersion, related_name="findings", blank=True)
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=8, choices=Severity.choices, db_index=True)
    description = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              help_text="Who remediates (in the owning team).")
    due_date = models.DateField()
    state = models.CharField(max_length=24, choices=FindingState.choices, default=FindingState.OPEN, db_index=True)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    remediation = models.TextField(blank=True)
    remediation_submitted_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    acceptance_reason = models.TextField(blank=True)
    acceptance_expires = models.DateField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    last_overdue_notice = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("accept_risk_finding", "Can accept the risk of a finding")]

    def __str__(self):
        return f"Finding #{self.pk} {self.title} ({self.severity}, {self.state})"


class ModelDocument(models.Model):
    """Model documentation of one version (SR 11-7 / EU AI Act Annex IV), from a template chosen
    by tier and regime, prefilled from what Modelgate knows and completed by people."""

    team_scope = _VERSION_SCOPE

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="model_document")
    template = models.CharField(max_length=32)
    sections = models.JSONField(default=list, help_text='[{"key", "title", "guidance", "prefilled", "text"}]')
    revision = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    last_export_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self):
        return f"Documentation of {self.version} (rev {self.revision})"

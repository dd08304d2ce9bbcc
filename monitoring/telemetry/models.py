"""SLA monitoring: rules on deployments, raw prediction events and late ground
truth, per-minute / per-hour rollups, alerts and data tests on incoming batches.

Every row hangs off a governance ``Deployment``; visibility follows the
deployment's registered model (its team), through ``restrict``.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from monitoring.telemetry.choices import (
    BURN_RATE_METRICS,
    FLOOR_METRICS,
    AlertState,
    BurnPolicy,
    DataTestKind,
    EventStatus,
    Metric,
    RuleKind,
    RuleState,
    Severity,
    TestSeverity,
    ValueType,
)
from monitoring.telemetry.histogram import empty_latency_hist, empty_score_hist

_SCOPE = ("deployment__registered_model", "registry.RegisteredModel")


class SlaRule(models.Model):
    """One SLA/KPI objective of a deployment, evaluated every minute on the rollups.

    Prometheus alerting-rule semantics: the condition must hold for ``for_count``
    consecutive evaluations (pending → firing); once it clears, the rule keeps
    firing for ``keep_firing_for_minutes`` so a flapping metric does not open and
    close alerts. The evaluation state lives on the row (one writer: the beat task).
    """

    team_scope = _SCOPE

    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="sla_rules")
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    threshold = models.FloatField(
        help_text="Ceiling (or floor for throughput and quality). Burn-rate rules on latency: the slow-request limit in ms."
    )
    window_minutes = models.PositiveIntegerField(default=5, help_text="Evaluation window over the rollups.")
    for_count = models.PositiveSmallIntegerField(
        default=3, help_text="Breaching evaluations in a row before the rule fires (pending → firing)."
    )
    keep_firing_for_minutes = models.PositiveIntegerField(
        default=0, help_text="Keep firing this long after the condition clears (no flapping)."
    )
    objective = models.FloatField(
        null=True, blank=True, help_text="Burn-rate rules: the SLO target, e.g. 0.999 (error budget 0.1 %)."
    )
    burn_policy = models.CharField(max_length=8, choices=BurnPolicy.choices, blank=True)
    min_events = models.PositiveIntegerField(
        default=1, help_text="Fewer events (or labels) in the window: not evaluated (no data is not a breach)."
    )
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    runbook_url = models.URLField(max_length=500, blank=True)
    runbook = models.TextField(blank=True, help_text="What to do when this fires.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # --- evaluation state (written by the evaluator only) ---
    state = models.CharField(max_length=16, choices=RuleState.choices, default=RuleState.INACTIVE)
    consecutive_breaches = models.PositiveIntegerField(default=0)
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_breach_at = models.DateTimeField(null=True, blank=True)
    episode_alert = models.ForeignKey(
        "Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The alert of the current breach episode; cleared when the rule goes inactive.",
    )

    class Meta:
        ordering = ["deployment_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "name"], name="telemetry_unique_rule_name"),
        ]

    def __str__(self):
        return f"{self.name} ({self.deployment_id})"

    @property
    def is_floor(self) -> bool:
        return self.kind == RuleKind.THRESHOLD and self.metric in FLOOR_METRICS

    @property
    def condition(self) -> str:
        if self.kind == RuleKind.BURN_RATE:
            return f"{self.get_burn_policy_display()} of a {self.objective} SLO on {self.metric}"
        return f"{self.metric} {'<' if self.is_floor else '>'} {self.threshold:g}"

    def clean(self):
        errors = {}
        if self.kind == RuleKind.BURN_RATE:
            if self.metric not in BURN_RATE_METRICS:
                errors["metric"] = "Burn-rate rules count errors (error_rate) or slow requests (latency_*)."
            if self.objective is None or not 0 < self.objective < 1:
                errors["objective"] = "An SLO target strictly between 0 and 1, e.g. 0.999."
            if not self.burn_policy:
                errors["burn_policy"] = "Choose page or ticket."
        elif self.burn_policy:
            errors["burn_policy"] = "Only burn-rate rules have a burn policy."
        if self.for_count < 1:
            errors["for_count"] = "At least 1."
        if not 1 <= self.window_minutes <= 7 * 24 * 60:
            errors["window_minutes"] = "1 minute to 7 days."
        if self.metric == Metric.ERROR_RATE and self.kind == RuleKind.THRESHOLD and not 0 <= self.threshold <= 1:
            errors["threshold"] = "An error rate is a fraction between 0 and 1."
        if self.threshold is not None and self.threshold < 0:
            errors["threshold"] = "Must not be negative."
        if errors:
            raise ValidationError(errors)


class PredictionEvent(models.Model):
    """One prediction served. Raw rows are kept for the retention period only;
    dashboards and rules read the rollups."""

    team_scope = _SCOPE

    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    version = models.PositiveIntegerField(help_text="Model version number that served the prediction.")
    latency_ms = models.FloatField()
    status = models.CharField(max_length=8, choices=EventStatus.choices)
    prediction = models.JSONField(null=True)
    score = models.FloatField(null=True, help_text="Probability of the positive class, when the model gives one.")
    features = models.JSONField(null=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            # Retries send the same event ids: the unique key makes them no-ops.
            models.UniqueConstraint(fields=["deployment", "event_id"], name="telemetry_unique_event_id"),
        ]
        indexes = [models.Index(fields=["deployment", "timestamp"], name="telemetry_event_dep_ts")]

    def __str__(self):
        return f"{self.event_id} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class GroundTruth(models.Model):
    """The realised outcome of an event, arriving later; joined by event id (it may even arrive first)."""

    team_scope = _SCOPE

    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(max_length=64)
    label = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["deployment", "event_id"], name="telemetry_unique_label")]
        indexes = [models.Index(fields=["deployment", "received_at"], name="telemetry_label_dep_recv")]

    def __str__(self):
        return f"label of {self.event_id}"


class RollupPending(models.Model):
    """A (deployment, minute) whose bucket must be recomputed: written by ingestion in
    its own transaction, consumed by the rollup task. ``marked_at`` moves on every
    re-mark, so the rollup deletes only marks it has fully processed."""

    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="+", db_index=False)
    minute = models.DateTimeField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deployment", "minute"], name="telemetry_unique_pending")]

    def __str__(self):
        return f"{self.deployment_id} @ {self.minute:%Y-%m-%d %H:%M}"


ALL_VERSIONS = 0  # bucket rows with this version sum every version of the deployment


class BucketBase(models.Model):
    """Mergeable summary of a deployment version's events over [start, start + width).

    Each (deployment, start) also has an ``ALL_VERSIONS`` row, the sum of its
    versions, with its percentiles precomputed: dashboards read one row per
    point and never decode the latency histograms; canary views read the
    per-version rows.
    """

    team_scope = _SCOPE

    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="+", db_index=False)
    version = models.PositiveIntegerField(help_text="0: all versions together.")
    start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    latency_sum = models.FloatField(default=0)
    latency_hist = models.JSONField(default=empty_latency_hist)
    score_hist = models.JSONField(default=empty_score_hist)
    labeled = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    tp = models.PositiveIntegerField(default=0)
    fp = models.PositiveIntegerField(default=0)
    fn = models.PositiveIntegerField(default=0)
    tn = models.PositiveIntegerField(default=0)
    numeric_labeled = models.PositiveIntegerField(default=0)
    sse = models.FloatField(default=0)
    pos_hist = models.JSONField(default=empty_score_hist)
    neg_hist = models.JSONField(default=empty_score_hist)
    label_lag_sum = models.FloatField(default=0)
    # Percentiles of latency_hist, precomputed at rollup (readers of one row need no histogram).
    p50 = models.FloatField(null=True)
    p95 = models.FloatField(null=True)
    p99 = models.FloatField(null=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.deployment_id} v{self.version} @ {self.start:%Y-%m-%d %H:%M}"


class MinuteBucket(BucketBase):
    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "start", "version"], name="telemetry_unique_minute"),
        ]


class HourBucket(BucketBase):
    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "start", "version"], name="telemetry_unique_hour"),
        ]


class Alert(models.Model):
    """One breach episode of a rule: open → acknowledged → resolved, with who and when."""

    team_scope = _SCOPE

    rule = models.ForeignKey(SlaRule, on_delete=models.CASCADE, related_name="alerts")
    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OPEN, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    summary = models.CharField(max_length=300)
    value_at_open = models.FloatField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Empty when the evaluator resolved it because the metric recovered.",
    )
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One alert per breach episode: at most one unresolved alert per rule.
            models.UniqueConstraint(fields=["rule"], condition=~models.Q(state="resolved"), name="telemetry_one_open_alert"),
        ]
        indexes = [models.Index(fields=["deployment", "state"], name="telemetry_alert_dep_state")]

    def __str__(self):
        return f"#{self.pk} {self.summary} ({self.state})"


class DataTest(models.Model):
    """A check run on every incoming batch of a deployment (dbt-style warn/error with a tolerance)."""

    team_scope = _SCOPE

    deployment = models.ForeignKey("governance.Deployment", on_delete=models.CASCADE, related_name="telemetry_data_tests")
    field = models.CharField(
        max_length=128, help_text='"prediction", "score", "latency_ms" or a feature name (features.<name> also accepted).'
    )
    kind = models.CharField(max_length=16, choices=DataTestKind.choices)
    value_type = models.CharField(max_length=8, choices=ValueType.choices, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    allowed_values = models.JSONField(default=list, blank=True)
    tolerance = models.FloatField(default=0.0, help_text="Fraction of the batch allowed to fail (null rate: the maximum null rate).")
    severity = models.CharField(max_length=8, choices=TestSeverity.choices, default=TestSeverity.WARN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment_id", "field", "id"]

    def __str__(self):
        return f"{self.kind} on {self.field}"

    def clean(self):
        errors = {}
        if self.kind == DataTestKind.TYPE and not self.value_type:
            errors["value_type"] = "A type test names the expected type."
        if self.kind == DataTestKind.RANGE and self.min_value is None and self.max_value is None:
            errors["min_value"] = "A range test needs a minimum, a maximum or both."
        if self.kind == DataTestKind.ALLOWED_VALUES and (not isinstance(self.allowed_values, list) or not self.allowed_values):
            errors["allowed_values"] = "A non-empty list of allowed values."
        if not 0 <= self.tolerance <= 1:
            errors["tolerance"] = "A fraction between 0 and 1."
        if errors:
            raise ValidationError(errors)


class DataTestResult(models.Model):
    """Outcome of one data test on one ingested batch."""

    team_scope = ("test__deployment__registered_model", "registry.RegisteredModel")

    test = models.ForeignKey(DataTest, on_delete=models.CASCADE, related_name="results")
    checked = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    passed = models.BooleanField()
    severity = models.CharField(max_length=8, choices=TestSeverity.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.test}: {'pass' if self.passed else 'fail'} ({self.failed}/{self.checked})"

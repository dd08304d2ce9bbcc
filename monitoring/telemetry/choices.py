"""Choices of SLA monitoring: metrics a rule watches, rule and alert states."""

from django.db import models


class Metric(models.TextChoices):
    LATENCY_P50 = "latency_p50", "Latency p50 (ms)"
    LATENCY_P95 = "latency_p95", "Latency p95 (ms)"
    LATENCY_P99 = "latency_p99", "Latency p99 (ms)"
    ERROR_RATE = "error_rate", "Error rate (fraction)"
    THROUGHPUT = "throughput", "Throughput (events/min)"
    ACCURACY = "accuracy", "Accuracy (labelled events)"
    F1 = "f1", "F1 (binary, labelled events)"
    AUC = "auc", "ROC AUC (binary, labelled events with a score)"
    RMSE = "rmse", "RMSE (numeric labels)"
    FRESHNESS = "freshness", "Data freshness: age of the last event (s)"
    LABEL_FRESHNESS = "label_freshness", "Label freshness: age of the last ground truth (s)"
    DRIFT_PSI = "drift_psi", "Drift of the score distribution (PSI)"


# Floors breach when the value falls below the threshold; every other metric is a ceiling.
FLOOR_METRICS = frozenset({Metric.THROUGHPUT, Metric.ACCURACY, Metric.F1, Metric.AUC})
QUALITY_METRICS = frozenset({Metric.ACCURACY, Metric.F1, Metric.AUC, Metric.RMSE})
# Burn-rate rules count "bad" events: errors, or events slower than the threshold.
BURN_RATE_METRICS = frozenset({Metric.ERROR_RATE, Metric.LATENCY_P50, Metric.LATENCY_P95, Metric.LATENCY_P99})


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold (Prometheus-style condition)"
    BURN_RATE = "burn_rate", "SLO error-budget burn rate"


class BurnPolicy(models.TextChoices):
    PAGE = "page", "Page: 14.4× over 1 h and 5 min, or 6× over 6 h and 30 min"
    TICKET = "ticket", "Ticket: 1× over 3 days and 6 h"


# Google SRE workbook, "Alerting on SLOs", multiwindow multi-burn-rate alerts:
# (burn-rate factor, long window minutes, short window minutes); any pair firing fires.
BURN_WINDOWS: dict[str, tuple[tuple[float, int, int], ...]] = {
    BurnPolicy.PAGE: ((14.4, 60, 5), (6.0, 360, 30)),
    BurnPolicy.TICKET: ((1.0, 3 * 24 * 60, 360),),
}


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical (page)"
    WARNING = "warning", "Warning (ticket)"
    INFO = "info", "Info"


class RuleState(models.TextChoices):
    # Named for people: "inactive" (Prometheus' word) reads as "switched off", so it says OK.
    INACTIVE = "inactive", "OK"
    PENDING = "pending", "Breaching, not firing yet"
    FIRING = "firing", "Firing"


# The unit each metric's values carry, shown next to every value.
METRIC_UNITS = {
    "latency_p50": "ms", "latency_p95": "ms", "latency_p99": "ms", "throughput": "events/min",
    "freshness": "s", "label_freshness": "s", "error_rate": "%",
}


def metric_value(metric: str, value) -> str:
    """A metric's value with its unit: ``312 ms``, ``2.5 %`` (error rate stored as a fraction), ``0.870``."""
    from modelgate.core import readable

    if value is None:
        return "—"
    if metric == "error_rate":
        return readable.quantity(value * 100, "%")
    return readable.quantity(value, METRIC_UNITS.get(metric, ""))


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


ALERT_TRANSITIONS = {
    AlertState.OPEN: (AlertState.ACKNOWLEDGED, AlertState.RESOLVED),
    AlertState.ACKNOWLEDGED: (AlertState.RESOLVED,),
    AlertState.RESOLVED: (),
}


class EventStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"


class DataTestKind(models.TextChoices):
    NULL_RATE = "null_rate", "Null rate at most the tolerance"
    TYPE = "type", "Values have the expected type"
    RANGE = "range", "Values within [min, max]"
    ALLOWED_VALUES = "allowed_values", "Values among an allowed set"


class ValueType(models.TextChoices):
    NUMBER = "number", "Number"
    STRING = "string", "String"
    BOOLEAN = "boolean", "Boolean"


class TestSeverity(models.TextChoices):
    WARN = "warn", "Warn"
    ERROR = "error", "Error"


class HealthState(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    BREACHING = "breaching", "Breaching"
    ALERTING = "alerting", "Alerting"
    NO_DATA = "no_data", "No data"

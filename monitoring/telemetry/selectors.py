"""Reads of SLA monitoring, restricted to what the user may see.

Dashboards read rollup buckets only (never raw events), so their cost depends
on the time range and step, not on the number of events behind them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Subquery
from django.http import Http404
from django.utils import timezone

from governance.choices import DeploymentStatus
from governance.models import Deployment, DeploymentSplit
from modelgate.core.permissions import restrict
from monitoring.telemetry.choices import (
    FLOOR_METRICS,
    AlertState,
    HealthState,
    Metric,
    RuleKind,
    RuleState,
)
from monitoring.telemetry.histogram import BucketMetrics, Summary, psi
from monitoring.telemetry.models import ALL_VERSIONS, Alert, DataTest, DataTestResult, HourBucket, MinuteBucket, SlaRule
from monitoring.telemetry.services import baseline_score_hist

# range key → (span, bucket model, step)
RANGES: dict[str, tuple[timedelta, type, timedelta]] = {
    "1h": (timedelta(hours=1), MinuteBucket, timedelta(minutes=1)),
    "6h": (timedelta(hours=6), MinuteBucket, timedelta(minutes=1)),
    "24h": (timedelta(hours=24), HourBucket, timedelta(hours=1)),
    "7d": (timedelta(days=7), HourBucket, timedelta(hours=1)),
    "30d": (timedelta(days=30), HourBucket, timedelta(hours=1)),
}
DEFAULT_RANGE = "24h"
# Everything but the latency histogram: readers of ALL_VERSIONS rows take the precomputed percentiles.
POINT_FIELDS = ("start", "count", "errors", "latency_sum", "score_hist", "labeled", "correct", "tp", "fp", "fn", "tn",
                "numeric_labeled", "sse", "pos_hist", "neg_hist", "label_lag_sum", "p50", "p95", "p99")
VERSION_FIELDS = ("start", "version", "count", "errors", "latency_sum", "latency_hist", "labeled", "correct", "tp", "fp",
                  "fn", "tn", "pos_hist", "neg_hist")
# Metrics a per-hour compliance figure makes sense for (quality needs labels, freshness is not per bucket).
COMPLIANCE_METRICS = (Metric.LATENCY_P50, Metric.LATENCY_P95, Metric.LATENCY_P99, Metric.ERROR_RATE, Metric.THROUGHPUT)


def deployments_for(user):
    return restrict(Deployment.objects.all(), user, "view").select_related("registered_model__team", "environment")


def deployment_for(user, pk) -> Deployment:
    deployment = deployments_for(user).filter(pk=pk).first()
    if deployment is None:
        raise Http404("No such deployment.")
    return deployment


def rules_for(user):
    return restrict(SlaRule.objects.all(), user, "view").select_related(
        "deployment__registered_model", "deployment__environment", "owner"
    )


def alerts_for(user):
    return restrict(Alert.objects.all(), user, "view").select_related(
        "rule", "deployment__registered_model", "deployment__environment", "acknowledged_by", "resolved_by"
    )


def data_tests_for(user):
    latest = DataTestResult.objects.filter(test=OuterRef("pk")).order_by("-created_at", "-id")
    return restrict(DataTest.objects.all(), user, "view").annotate(
        last_passed=Subquery(latest.values("passed")[:1]),
        last_failed=Subquery(latest.values("failed")[:1]),
        last_checked=Subquery(latest.values("checked")[:1]),
        last_run_at=Subquery(latest.values("created_at")[:1]),
    )


def _rows(model, deployment_id: int, start: datetime, end: datetime, version: int = ALL_VERSIONS, fields=POINT_FIELDS):
    filters = {"deployment_id": deployment_id, "start__gte": start, "start__lt": end, "version": version}
    return model.objects.filter(**filters).order_by("start").values(*fields)


class _Point(BucketMetrics):
    """One ALL_VERSIONS bucket row, read as it is: counters and histograms as stored,
    percentiles as stored at rollup. (A full ``Summary`` per row would allocate and
    merge five histograms.)"""

    __slots__ = ("row",)

    def __init__(self, row: dict):
        self.row = row

    def __getattr__(self, name):  # a counter or histogram of the row; missing or NULL reads as empty
        value = self.row.get(name)
        if value is None:
            return [] if name.endswith("_hist") else 0
        return value

    def p(self, q: float) -> float | None:
        return self.row.get({0.5: "p50", 0.95: "p95", 0.99: "p99"}[q])


def _point(t: datetime, s: _Point, step_minutes: float, baseline) -> dict:
    score_hist = s.score_hist
    return {
        "t": t.isoformat(),
        "count": s.count,
        "throughput": s.count / step_minutes,
        "error_rate": s.error_rate,
        "p50": s.p(0.5),
        "p95": s.p(0.95),
        "p99": s.p(0.99),
        "labeled": s.labeled,
        "accuracy": s.accuracy,
        "f1": s.f1,
        "auc": s.auc,
        "rmse": s.rmse,
        "label_lag_s": s.mean_label_lag,
        "psi": psi(baseline, score_hist) if baseline is not None and sum(score_hist) else None,
    }


def _merged(deployment: Deployment, range_key: str, now: datetime | None):
    """{bucket start: summary} over the range, one ALL_VERSIONS row per point."""
    span, model, step = RANGES[range_key]
    now = now or timezone.now()
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if model is HourBucket:
        end = end.replace(minute=0) + timedelta(hours=1)
    start = end - span
    merged = {row["start"]: _Point(row) for row in _rows(model, deployment.pk, start, end)}
    return merged, model, step


def series(deployment: Deployment, range_key: str, now: datetime | None = None, with_drift: bool = True,
           merged=None) -> list[dict]:
    if merged is None:
        merged, _, step = _merged(deployment, range_key, now)
    else:
        step = RANGES[range_key][2]
    baseline = baseline_score_hist(deployment) if with_drift else None
    if baseline is not None and not sum(baseline):
        baseline = None
    step_minutes = step.total_seconds() / 60
    return [_point(t, merged[t], step_minutes, baseline) for t in sorted(merged)]


def _rule_meets(rule: SlaRule, s: Summary) -> bool | None:
    """Whether one bucket meets a threshold rule (None: no data to judge)."""
    if rule.metric == Metric.THROUGHPUT:
        value = s.count / 60  # hour buckets: events per minute
    elif not s.count:
        return None
    elif rule.metric == Metric.ERROR_RATE:
        value = s.error_rate
    else:
        value = s.p({Metric.LATENCY_P50: 0.5, Metric.LATENCY_P95: 0.95, Metric.LATENCY_P99: 0.99}[rule.metric])
    if value is None:
        return None
    return value >= rule.threshold if rule.metric in FLOOR_METRICS else value <= rule.threshold


def compliance(deployment: Deployment, rules: list[SlaRule], now: datetime | None = None, days: int = 28,
               hours: dict[datetime, Summary] | None = None) -> dict:
    """Share of hours (with data) that met each threshold rule, per day and per ISO week.

    ``hours``: per-hour summaries the caller already merged (a 30-day dashboard), reused instead of read again.
    """
    rules = [r for r in rules if r.kind == RuleKind.THRESHOLD and r.metric in COMPLIANCE_METRICS]
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = (end - timedelta(days=days)).replace(hour=0)
    if hours is not None:
        hours = {t: s for t, s in hours.items() if start <= t < end}
    elif rules:
        # Only what the rules judge, percentiles as stored: no histogram is decoded.
        hours = {row["start"]: _Point(row) for row in _rows(
            HourBucket, deployment.pk, start, end, fields=("start", "count", "errors", "p50", "p95", "p99"))}
    daily: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    weekly: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for hour, s in sorted((hours or {}).items()):
        day = hour.date().isoformat()
        iso = hour.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
        for rule in rules:
            met = _rule_meets(rule, s)
            if met is None:
                continue
            for bucket in (daily[day][rule.pk], weekly[week][rule.pk]):
                bucket[0] += int(met)
                bucket[1] += 1

    def table(groups):
        return [
            {"period": period, "rules": {str(rid): round(100 * ok / n, 2) for rid, (ok, n) in per_rule.items()}}
            for period, per_rule in sorted(groups.items())
        ]

    return {"rules": [{"id": r.pk, "name": r.name, "condition": r.condition} for r in rules],
            "daily": table(daily), "weekly": table(weekly)}


def dashboard(deployment: Deployment, range_key: str = DEFAULT_RANGE, now: datetime | None = None) -> dict:
    rules = list(SlaRule.objects.filter(deployment=deployment).select_related(
        "owner", "deployment__registered_model", "deployment__environment").order_by("name", "id"))
    open_alerts = list(Alert.objects.filter(deployment=deployment).exclude(state=AlertState.RESOLVED)
                       .select_related("rule", "deployment__registered_model", "deployment__environment",
                                       "acknowledged_by", "resolved_by").order_by("-opened_at"))
    merged, model, _ = _merged(deployment, range_key, now)
    # A range of at least 28 days already holds every hour the compliance table needs.
    covers = model is HourBucket and RANGES[range_key][0] >= timedelta(days=29)
    return {
        "deployment": deployment,
        "range": range_key,
        "points": series(deployment, range_key, now, merged=merged),
        "rules": rules,
        "open_alerts": open_alerts,
        "compliance": compliance(deployment, rules, now, hours=merged if covers else None),
        "state": _health(rules, open_alerts),
    }


def _health(rules, open_alerts) -> str:
    if open_alerts:
        return HealthState.ALERTING
    if any(r.state in (RuleState.PENDING, RuleState.FIRING) for r in rules):
        return HealthState.BREACHING
    return HealthState.HEALTHY


def overview(user, environment_slug: str = "prod", now: datetime | None = None):
    """Active deployments of an environment with their state, in a constant number of queries:
    one for the deployments (with counts as subqueries), one for their splits."""
    now = now or timezone.now()
    open_alerts = Alert.objects.filter(deployment=OuterRef("pk")).exclude(state=AlertState.RESOLVED)
    breaching = SlaRule.objects.filter(deployment=OuterRef("pk"), is_active=True,
                                       state__in=(RuleState.PENDING, RuleState.FIRING))
    last_bucket = MinuteBucket.objects.filter(deployment=OuterRef("pk")).order_by("-start").values("start")[:1]
    hour_ago = now - timedelta(hours=1)
    recent = MinuteBucket.objects.filter(deployment=OuterRef("pk"), start__gte=hour_ago)
    rows = (
        deployments_for(user)
        .filter(status=DeploymentStatus.ACTIVE, environment__slug=environment_slug)
        .annotate(
            open_alert_count=Subquery(open_alerts.order_by().values("deployment").annotate(n=Count("id")).values("n")[:1]),
            is_breaching=Exists(breaching),
            last_data_at=Subquery(last_bucket),
            has_recent=Exists(recent),
            rule_count=Count("sla_rules", distinct=True),
        )
        .prefetch_related(Prefetch("splits", queryset=DeploymentSplit.objects.select_related("version")))
        .order_by("registered_model__name", "id")
    )
    out = []
    for d in rows:
        if d.open_alert_count:
            state = HealthState.ALERTING
        elif d.is_breaching:
            state = HealthState.BREACHING
        elif not d.has_recent:
            state = HealthState.NO_DATA
        else:
            state = HealthState.HEALTHY
        d.health = state
        out.append(d)
    return out


def canary(deployment: Deployment, range_key: str = "6h", now: datetime | None = None) -> dict:
    """Side-by-side summary and p95 series of each version of a split deployment."""
    splits = list(deployment.splits.select_related("version").order_by("-weight", "version__version"))
    span, model, step = RANGES[range_key]
    now = now or timezone.now()
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - span
    per_version: dict[int, Summary] = defaultdict(Summary)
    over_time: dict[int, dict[datetime, Summary]] = defaultdict(lambda: defaultdict(Summary))
    rows = model.objects.filter(deployment=deployment, start__gte=start, start__lt=end).exclude(
        version=ALL_VERSIONS).order_by("start").values(*VERSION_FIELDS)
    for row in rows:
        per_version[row["version"]].add_bucket(row)
        over_time[row["version"]][row["start"]].add_bucket(row)
    versions = []
    for split in splits:
        number = split.version.version
        s = per_version.get(number, Summary())
        versions.append({
            "version": number, "weight": split.weight, "count": s.count, "error_rate": s.error_rate,
            "p50": s.p(0.5), "p95": s.p(0.95), "p99": s.p(0.99), "accuracy": s.accuracy, "auc": s.auc,
            "labeled": s.labeled,
            "p95_series": [{"t": t.isoformat(), "p95": b.p(0.95), "error_rate": b.error_rate}
                           for t, b in sorted(over_time.get(number, {}).items())],
        })
    return {"deployment": deployment, "range": range_key, "versions": versions}


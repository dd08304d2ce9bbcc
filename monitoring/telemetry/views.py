"""Portal pages of SLA monitoring: Prod overview, per-deployment dashboard, canary
comparison, alert list. Thin: reads through restricted selectors (other team → 404),
writes through services; buttons decided here and refused again by the service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from governance.models import Environment
from modelgate.core import roles
from modelgate.core.errors import ApplicationError
from modelgate.core.permissions import restrict
from modelgate.core.portal import paginate
from modelgate.core.selectors import audit_events_for
from monitoring.telemetry import figures, selectors, services
from monitoring.telemetry.choices import AlertState, HealthState, metric_value
from monitoring.telemetry.filtersets import AlertFilterSet
from registry.models import RegisteredModel

HEALTH_BADGE = {HealthState.HEALTHY: "ok", HealthState.BREACHING: "pending", HealthState.ALERTING: "fail",
                HealthState.NO_DATA: "cancelled"}
ALERT_BADGE = {AlertState.OPEN: "fail", AlertState.ACKNOWLEDGED: "pending", AlertState.RESOLVED: "ok"}
_READ = "telemetry.view_hourbucket"


def _range(request, default: str) -> str:
    value = request.GET.get("range", default)
    return value if value in selectors.RANGES else default


def _models_user_can_change(user, model_ids) -> set[int]:
    if roles.is_read_only(user) or not user.has_perm("telemetry.change_alert"):
        return set()
    return set(restrict(RegisteredModel.objects.filter(pk__in=model_ids), user, "change").values_list("pk", flat=True))


@login_required
@permission_required(_READ, raise_exception=True)
@require_GET
def overview(request):
    environment = request.GET.get("environment", "prod")
    rows = selectors.overview(request.user, environment)
    for row in rows:
        row.badge = HEALTH_BADGE[row.health]
    counts = {state: sum(1 for r in rows if r.health == state) for state in HealthState.values}
    return render(request, "telemetry/overview.html", {
        "rows": rows, "counts": counts, "environment": environment,
        "environments": Environment.objects.order_by("order"), "states": HealthState,
    })


@login_required
@permission_required(_READ, raise_exception=True)
@require_GET
def dashboard(request, pk: int):
    deployment = selectors.deployment_for(request.user, pk)
    range_key = _range(request, selectors.DEFAULT_RANGE)
    data = selectors.dashboard(deployment, range_key)
    points, rules = data["points"], data["rules"]
    charts = [
        ("latency", figures.latency(points, rules)),
        ("throughput", figures.throughput(points, rules)),
        ("errors", figures.error_rate(points, rules)),
    ]
    if any(p["labeled"] for p in points):
        charts.append(("quality", figures.quality(points, rules)))
    if any(p["psi"] is not None for p in points):
        charts.append(("drift", figures.drift(points, rules)))
    if data["compliance"]["rules"]:
        charts.append(("compliance-daily", figures.compliance(data["compliance"], "daily")))
        charts.append(("compliance-weekly", figures.compliance(data["compliance"], "weekly")))
    return render(request, "telemetry/dashboard.html", {
        **data, "charts": charts, "ranges": list(selectors.RANGES), "badge": HEALTH_BADGE[data["state"]],
        "has_split": deployment.splits.count() > 1, "total": sum(p["count"] for p in points),
    })


@login_required
@permission_required(_READ, raise_exception=True)
@require_GET
def canary(request, pk: int):
    deployment = selectors.deployment_for(request.user, pk)
    data = selectors.canary(deployment, _range(request, "6h"))
    if len(data["versions"]) < 2:
        raise Http404("This deployment does not split traffic.")
    return render(request, "telemetry/canary.html", {
        **data, "ranges": list(selectors.RANGES),
        "charts": [("canary-p95", figures.canary(data["versions"])), ("canary-errors", figures.canary_errors(data["versions"]))],
    })


@login_required
@permission_required("telemetry.view_alert", raise_exception=True)
@require_GET
def alert_list(request):
    params = request.GET.copy()
    if "unresolved" not in params and "state" not in params:
        params["unresolved"] = "true"
    filterset = AlertFilterSet(params, queryset=selectors.alerts_for(request.user).order_by("-opened_at", "-id"))
    page = paginate(request, filterset.qs)
    alerts = list(page["page_obj"])
    changeable = _models_user_can_change(request.user, {a.deployment.registered_model_id for a in alerts})
    for alert in alerts:
        alert.badge = ALERT_BADGE[alert.state]
        alert.can_act = alert.deployment.registered_model_id in changeable and alert.state != AlertState.RESOLVED
    return render(request, "telemetry/alert_list.html", {
        **page, "alerts": alerts, "filter": filterset, "unresolved": params.get("unresolved") == "true",
    })


@login_required
@permission_required("telemetry.view_alert", raise_exception=True)
@require_GET
def alert_detail(request, pk: int):
    """One alert's timeline — opened, acknowledged (with its note), resolved — with units on every value."""
    alert = _alert_for(request, pk)
    rule = alert.rule
    events = {e.action: e for e in audit_events_for(request.user).filter(
        object_type="telemetry.alert", object_id=str(alert.pk)).order_by("id")}
    acknowledged = events.get("telemetry.alert.acknowledge")
    timeline = [{"step": "opened", "title": "Opened", "at": alert.opened_at, "who": "system (rule evaluator)",
                 "text": f"{rule.get_metric_display().split(' (')[0]} reached {metric_value(rule.metric, alert.value_at_open)}; "
                         + (f"the rule breaches {'below' if rule.is_floor else 'above'} {metric_value(rule.metric, rule.threshold)}."
                            if rule.kind == "threshold" else f"the rule watches {rule.condition}.")}]
    if alert.acknowledged_at:
        note = (acknowledged.changes or {}).get("comment") if acknowledged else ""
        timeline.append({"step": "acknowledged", "title": "Acknowledged", "at": alert.acknowledged_at,
                         "who": alert.acknowledged_by.get_username() if alert.acknowledged_by else "system",
                         "text": f"“{note}”" if note else "No note was recorded."})
    if alert.resolved_at:
        timeline.append({"step": "resolved", "title": "Resolved", "at": alert.resolved_at,
                         "who": alert.resolved_by.get_username() if alert.resolved_by else "system (the metric recovered)",
                         "text": alert.resolution or ""})
    can_act = alert.state != AlertState.RESOLVED and bool(_models_user_can_change(request.user, {alert.deployment.registered_model_id}))
    return render(request, "telemetry/alert_detail.html", {
        "alert": alert, "rule": rule, "timeline": timeline, "badge": ALERT_BADGE[alert.state], "can_act": can_act,
        "last_value": metric_value(rule.metric, alert.last_value), "threshold": metric_value(rule.metric, rule.threshold),
        "rule_state": rule.get_state_display(),
    })


def _back(request):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("telemetry:alert-list")


def _alert_for(request, pk):
    alert = selectors.alerts_for(request.user).filter(pk=pk).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


@login_required
@require_POST
def alert_acknowledge(request, pk: int):
    alert = _alert_for(request, pk)
    try:
        services.alert_acknowledge(user=request.user, alert=alert, comment=request.POST.get("comment", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(request) if exc.status_code != 403 else render(request, "errors/403.html", status=403)
    messages.success(request, f"Alert #{alert.pk} acknowledged.")
    return _back(request)


@login_required
@require_POST
def alert_resolve(request, pk: int):
    alert = _alert_for(request, pk)
    try:
        services.alert_resolve(user=request.user, alert=alert, resolution=request.POST.get("resolution", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(request) if exc.status_code != 403 else render(request, "errors/403.html", status=403)
    messages.success(request, f"Alert #{alert.pk} resolved.")
    return _back(request)

"""Governance reads, restricted through ``restrict`` and prefetched so lists cost
a fixed number of queries. The API and the portal both use these."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from governance.choices import DeploymentStatus, RequestState
from governance.models import (
    Approval,
    CITestResult,
    Deployment,
    DeploymentSplit,
    Environment,
    PromotionRequest,
    VersionLifecycle,
    Webhook,
    WebhookDelivery,
)
from modelgate.core import roles
from modelgate.core.models import AuditEvent
from modelgate.core.permissions import restrict
from modelgate.core.selectors import audit_events_for


def environment_list() -> QuerySet[Environment]:
    return Environment.objects.order_by("order")


def promotion_request_list(user, action: str = "view") -> QuerySet[PromotionRequest]:
    """Requests the user may see: version, model, team, environment, requester and
    approvals (with their users) come in 2 queries whatever the page size."""
    return restrict(PromotionRequest.objects.all(), user, action).select_related(
        "version__registered_model__team", "environment", "requested_by", "override_decided_by"
    ).prefetch_related(Prefetch("approvals", queryset=Approval.objects.select_related("user").order_by("created_at", "id")))


def deployment_list(user, action: str = "view") -> QuerySet[Deployment]:
    return restrict(Deployment.objects.all(), user, action).select_related(
        "environment", "registered_model__team", "deployed_by", "promotion_request"
    ).prefetch_related(Prefetch("splits", queryset=DeploymentSplit.objects.select_related("version").order_by("-weight", "version_id")))


def ci_test_result_list(user) -> QuerySet[CITestResult]:
    return restrict(CITestResult.objects.all(), user, "view").select_related("version__registered_model", "posted_by")


def version_lifecycle_list(user) -> QuerySet[VersionLifecycle]:
    return restrict(VersionLifecycle.objects.all(), user, "view").select_related("version__registered_model", "changed_by")


def webhook_list(user) -> QuerySet[Webhook]:
    return restrict(Webhook.objects.all(), user, "view").select_related("team")


def webhook_delivery_list(user) -> QuerySet[WebhookDelivery]:
    return restrict(WebhookDelivery.objects.all(), user, "view").select_related("webhook")


def audit_event_list(user) -> QuerySet[AuditEvent]:
    return audit_events_for(user)


def inbox_for_user(user) -> list[PromotionRequest]:
    """Pending requests waiting for a decision in a role this user holds and may
    fill (not their own, not already decided by them, role not yet filled), plus
    justifications awaiting a risk officer. The roles are the effective policy's
    (environment plus risk tier). Six queries: tier requirements, environments, requests
    with their joins, approvals, the models' inventory records, and the user's roles."""
    from governance.modelrisk.models import TierRequirement
    from governance.modelrisk.policy import PolicyBook

    user_roles = roles.user_roles(user)
    is_risk = roles.RISK_OFFICER in user_roles
    requirements = list(TierRequirement.objects.select_related("policy"))
    tier_roles: dict[int, set] = {}
    for requirement in requirements:
        tier_roles.setdefault(requirement.environment_id, set()).update(requirement.extra_approver_roles)
    environments = list(Environment.objects.all())
    env_ids = [
        env.pk for env in environments
        if (set(env.required_approver_roles) | tier_roles.get(env.pk, set())) & user_roles
    ]
    if not env_ids and not is_risk:
        return []
    queryset = promotion_request_list(user).filter(state=RequestState.PENDING).exclude(requested_by=user)
    pending = list(queryset.order_by("submitted_at", "id"))
    book = PolicyBook([req.version.registered_model_id for req in pending], requirements=requirements,
                      environments=environments)
    out = []
    for req in pending:
        approvals = list(req.approvals.all())
        if any(a.user_id == user.pk for a in approvals):
            continue
        filled = {a.role for a in approvals}
        required = book.policy(req.environment, req.version.registered_model_id).required_approver_roles
        open_mine = (set(required) - filled) & user_roles
        if open_mine or (is_risk and req.override_state == "pending"):
            req.inbox_roles = sorted(open_mine)
            out.append(req)
    return out


@dataclass
class BoardRow:
    environment: Environment
    deployment: Deployment | None
    since: datetime.datetime | None = None
    splits: list[DeploymentSplit] = field(default_factory=list)
    approved_by: list[Approval] = field(default_factory=list)
    review_by: datetime.date | None = None
    review_overdue: bool = False


def environment_board(model, today: datetime.date | None = None) -> list[BoardRow]:
    """Per environment (in order): the active deployment of ``model``, since when,
    its traffic split and who approved it. Call with a model the user may see. Three queries."""
    today = today or timezone.localdate()
    active = {
        d.environment_id: d
        for d in Deployment.objects.filter(registered_model=model, status=DeploymentStatus.ACTIVE)
        .select_related("promotion_request", "deployed_by")
        .prefetch_related(
            Prefetch("splits", queryset=DeploymentSplit.objects.select_related("version").order_by("-weight", "version_id")),
            Prefetch("promotion_request__approvals", queryset=Approval.objects.select_related("user")),
        )
    }
    rows = []
    for env in Environment.objects.order_by("order"):
        dep = active.get(env.pk)
        row = BoardRow(environment=env, deployment=dep)
        if dep is not None:
            row.since = dep.created_at
            row.splits = list(dep.splits.all())
            row.approved_by = list(dep.promotion_request.approvals.all()) if dep.promotion_request else []
            row.review_by = dep.review_by
            row.review_overdue = bool(dep.review_by and dep.review_by < today)
        rows.append(row)
    return rows


def deployment_history(user, model, environment=None) -> QuerySet[Deployment]:
    queryset = deployment_list(user).filter(registered_model=model)
    if environment is not None:
        queryset = queryset.filter(environment=environment)
    return queryset.order_by("-created_at", "-id")


def governance_alerts(*, user=None, today: datetime.date | None = None) -> list[dict]:
    """Overdue periodic reviews and approvals older than their environment allows.

    With ``user`` the alerts are limited to models the user may see (the owner
    team; risk officers, approvers, auditors and admins see every team)."""
    today = today or timezone.localdate()
    now = timezone.now()
    deployments = Deployment.objects.filter(status=DeploymentStatus.ACTIVE, review_by__lt=today)
    approved = PromotionRequest.objects.filter(state=RequestState.APPROVED, decided_at__isnull=False)
    if user is not None:
        deployments = restrict(deployments, user, "view")
        approved = restrict(approved, user, "view")
    alerts = []
    for dep in deployments.select_related("environment", "registered_model__team").order_by("review_by", "id"):
        days = (today - dep.review_by).days
        alerts.append({
            "kind": "review_overdue",
            "severity": "high" if days > 30 else "medium",
            "title": f"{dep.registered_model.name} in {dep.environment.name}: review overdue",
            "message": f"The periodic review of {dep.registered_model.name} in {dep.environment.name} was due on "
                       f"{dep.review_by.isoformat()} ({days} days ago).",
            "model": dep.registered_model.name,
            "team": dep.registered_model.team.slug,
            "environment": dep.environment.slug,
            "object_type": "governance.deployment",
            "object_id": dep.pk,
            "due": dep.review_by.isoformat(),
        })
    for req in approved.select_related("environment", "version__registered_model__team").order_by("decided_at", "id"):
        max_age = req.environment.approval_max_age_days
        if not max_age or now - req.decided_at <= datetime.timedelta(days=max_age):
            continue
        model = req.version.registered_model
        alerts.append({
            "kind": "approval_stale",
            "severity": "medium",
            "title": f"{req.version} to {req.environment.name}: approval is stale",
            "message": f"Request #{req.pk} was approved on {req.decided_at.date().isoformat()} and not deployed; "
                       f"{req.environment.name} allows {max_age} days.",
            "model": model.name,
            "team": model.team.slug,
            "environment": req.environment.slug,
            "object_type": "governance.promotionrequest",
            "object_id": req.pk,
            "due": (req.decided_at + datetime.timedelta(days=max_age)).date().isoformat(),
        })
    return alerts

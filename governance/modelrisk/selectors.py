"""Model-risk reads, restricted through ``restrict`` (validators, risk officers, approvers and
auditors read every team's; practitioners their own) and prefetched for lists."""

from __future__ import annotations

import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from governance.choices import DeploymentStatus
from governance.modelrisk.choices import APPROVING_OUTCOMES, UNRESOLVED_FINDING_STATES, ValidationState
from governance.modelrisk.models import Finding, InventoryRecord, ModelDocument, Validation
from governance.models import Deployment, Environment
from modelgate.core.permissions import restrict
from registry.models import RegisteredModel


def inventory_record_list(user) -> QuerySet[InventoryRecord]:
    return restrict(InventoryRecord.objects.all(), user, "view").select_related(
        "registered_model__team", "owner", "override_by", "assessed_by")


def validation_list(user) -> QuerySet[Validation]:
    return restrict(Validation.objects.all(), user, "view").select_related("version__registered_model__team", "validator")


def finding_list(user) -> QuerySet[Finding]:
    return restrict(Finding.objects.all(), user, "view").select_related(
        "registered_model__team", "owner", "raised_by").prefetch_related("versions")


def document_list(user) -> QuerySet[ModelDocument]:
    return restrict(ModelDocument.objects.all(), user, "view").select_related("version__registered_model__team")


def _last_environment() -> Environment | None:
    return Environment.objects.order_by("-order").first()


def inventory_rows(user, *, tier: str = "", status: str = "", team: str = "", today: datetime.date | None = None) -> list[dict]:
    """The risk committee's dashboard: every visible model with its tier, whether it serves in the
    last environment (Prod), its current validation, open findings by severity and age. Five queries."""
    today = today or timezone.localdate()
    prod = _last_environment()
    models = restrict(RegisteredModel.objects.all(), user, "view").select_related("team", "inventory_record").order_by("name")
    if prod is not None:
        models = models.annotate(in_prod=Exists(Deployment.objects.filter(
            registered_model=OuterRef("pk"), environment=prod, status=DeploymentStatus.ACTIVE)))
    if team:
        models = models.filter(team__slug=team)
    if tier == "unassessed":
        models = models.filter(Q(inventory_record__isnull=True) | Q(inventory_record__tier__isnull=True))
    elif tier:
        models = models.filter(inventory_record__tier=tier)
    models = list(models)
    ids = [m.pk for m in models]
    latest: dict[int, Validation] = {}
    for validation in (Validation.objects.filter(version__registered_model_id__in=ids, state=ValidationState.SIGNED,
                                                  outcome__in=APPROVING_OUTCOMES)
                       .select_related("version").order_by("-signed_at", "-id")):
        latest.setdefault(validation.version.registered_model_id, validation)
    findings: dict[int, dict] = {}
    for row in (Finding.objects.filter(registered_model_id__in=ids, state__in=UNRESOLVED_FINDING_STATES)
                .values("registered_model_id", "severity").annotate(n=Count("id"))):
        findings.setdefault(row["registered_model_id"], {})[row["severity"]] = row["n"]
    oldest = {}
    for model_id, created in (Finding.objects.filter(registered_model_id__in=ids, state__in=UNRESOLVED_FINDING_STATES)
                              .order_by("created_at").values_list("registered_model_id", "created_at")):
        oldest.setdefault(model_id, created)
    gaps = monitoring_gaps(prod, ids) if prod is not None else {}
    rows = []
    for model in models:
        record = getattr(model, "inventory_record", None)
        validation = latest.get(model.pk)
        due = validation.valid_until if validation else None
        in_prod = bool(getattr(model, "in_prod", False))
        validation_status = ("none" if validation is None else "overdue" if due and due < today
                             else "due soon" if due and due <= today + datetime.timedelta(days=30) else "current")
        row = {
            "model": model, "record": record, "tier": record.tier if record else None,
            "eu_ai_act_category": record.eu_ai_act_category if record else "",
            "in_prod": in_prod, "validation": validation, "validation_status": validation_status, "revalidation_due": due,
            "findings": findings.get(model.pk, {}), "open_findings": sum(findings.get(model.pk, {}).values()),
            "oldest_finding_days": (timezone.now() - oldest[model.pk]).days if model.pk in oldest else None,
            "prod_without_validation": in_prod and validation_status in ("none", "overdue"),
            "monitoring_missing": sorted(gaps.get(model.pk, ())),
        }
        rows.append(row)
    if status == "in_prod":
        rows = [r for r in rows if r["in_prod"]]
    elif status == "prod_without_validation":
        rows = [r for r in rows if r["prod_without_validation"]]
    elif status in ("overdue", "due soon", "none", "current"):
        rows = [r for r in rows if r["validation_status"] == status]
    elif status == "open_findings":
        rows = [r for r in rows if r["open_findings"]]
    elif status == "monitoring_missing":
        rows = [r for r in rows if r["monitoring_missing"]]
    return rows


def monitoring_gaps(environment: Environment, model_ids) -> dict[int, set[str]]:
    """Per model serving in ``environment``: the SLA metrics its tier requires there that no active
    rule of the deployment watches (monitoring reports coverage through ``extensions``)."""
    from governance.modelrisk.extensions import monitored_metrics
    from governance.modelrisk.policy import PolicyBook

    deployments = dict(Deployment.objects.filter(environment=environment, status=DeploymentStatus.ACTIVE,
                                                 registered_model_id__in=model_ids)
                       .values_list("registered_model_id", "pk"))
    if not deployments:
        return {}
    book = PolicyBook(deployments, environments=[environment])
    required = {model_id: set(book.policy(environment, model_id).required_monitoring_rules) for model_id in deployments}
    covered = monitored_metrics([pk for model_id, pk in deployments.items() if required[model_id]])
    return {model_id: required[model_id] - covered.get(pk, set()) for model_id, pk in deployments.items()
            if required[model_id] - covered.get(pk, set())}

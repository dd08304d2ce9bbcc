"""Model-risk gate kinds, in governance's gate registry (imported by GovernanceConfig.ready)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from governance.gates import GateResult, register_gate_kind
from governance.modelrisk.choices import (
    APPROVING_OUTCOMES,
    SEVERITY_RANK,
    EuAiActCategory,
    FindingState,
    Severity,
    ValidationState,
)
from governance.modelrisk.models import Finding, InventoryRecord, Validation


@register_gate_kind(
    "eu_ai_act_permitted",
    label="Not in the EU AI Act prohibited category",
    params_help="{} — added by model risk to every environment after the first",
)
def eu_ai_act_permitted(version, params) -> GateResult:
    category = InventoryRecord.objects.filter(registered_model_id=version.registered_model_id).values_list(
        "eu_ai_act_category", flat=True).first()
    if category == EuAiActCategory.PROHIBITED:
        return GateResult(False, "The model is in the EU AI Act prohibited category: it may not go beyond Dev.",
                          category, "not prohibited")
    return GateResult(True, "The model is not in the EU AI Act prohibited category.", category or "not assessed",
                      "not prohibited")


@register_gate_kind(
    "risk_assessment_done",
    label="Risk assessment required",
    params_help="{} — added by model risk where the environment requires a risk assessment",
)
def risk_assessment_done(version, params) -> GateResult:
    record = InventoryRecord.objects.filter(registered_model_id=version.registered_model_id).first()
    if record is None or record.tier is None:
        return GateResult(False, "The model has no risk assessment: answer the risk-tier questionnaire first.",
                          None, "a risk tier")
    return GateResult(True, f"Risk assessment done: {record.get_tier_display()}.", record.tier, "a risk tier",
                      {"inventory_record_id": record.pk, "assessed_at": record.assessed_at.isoformat() if record.assessed_at else None})


@register_gate_kind(
    "validation_approved",
    label="Independent validation approved",
    params_help='{"allow_conditions": true} — a signed, current validation of this version with an approving outcome',
)
def validation_approved(version, params) -> GateResult:
    outcomes = list(APPROVING_OUTCOMES) if params.get("allow_conditions", True) else [APPROVING_OUTCOMES[0]]
    today = timezone.localdate()
    validation = (
        Validation.objects.filter(version=version, state=ValidationState.SIGNED, outcome__in=outcomes)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .select_related("validator").order_by("-signed_at", "-id").first()
    )
    if validation is None:
        latest = Validation.objects.filter(version=version, state=ValidationState.SIGNED).order_by("-signed_at", "-id").first()
        why = ("no signed validation" if latest is None else
               f"validation #{latest.pk} is {latest.get_outcome_display().lower()}"
               + (f", current until {latest.valid_until}" if latest.valid_until else ""))
        return GateResult(False, f"The version needs an approved independent validation: {why}.", None,
                          " or ".join(outcomes), {"validation_id": latest.pk if latest else None})
    return GateResult(
        True, f"Validation #{validation.pk} by {validation.validator} is {validation.get_outcome_display().lower()}"
              + (f" (current until {validation.valid_until})." if validation.valid_until else "."),
        validation.outcome, " or ".join(outcomes),
        {"validation_id": validation.pk, "validator": validation.validator.get_username(),
         "signed_at": validation.signed_at.isoformat(), "conditions": validation.conditions},
    )


def unresolved_findings(version_ids, *, min_severity: str = Severity.LOW, today=None):
    """Findings linked to the versions that still count: open, remediation submitted, or
    accepted with an acceptance that has expired."""
    today = today or timezone.localdate()
    severities = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[min_severity]]
    return Finding.objects.filter(versions__in=version_ids, severity__in=severities).filter(
        Q(state__in=[FindingState.OPEN, FindingState.REMEDIATION_SUBMITTED])
        | Q(state=FindingState.RISK_ACCEPTED, acceptance_expires__lt=today)
    ).distinct()


@register_gate_kind(
    "no_open_findings",
    label="No open validation findings",
    params_help='{"min_severity": "medium"} — findings at or above this severity block (default low: every finding)',
)
def no_open_findings(version, params) -> GateResult:
    min_severity = params.get("min_severity", Severity.LOW)
    if min_severity not in SEVERITY_RANK:
        raise ValueError(f"min_severity must be one of {', '.join(Severity.values)}")
    found = list(unresolved_findings([version.pk], min_severity=min_severity).order_by("due_date", "id"))
    evidence = {"findings": [{"id": f.pk, "title": f.title, "severity": f.severity, "state": f.state} for f in found]}
    if found:
        titles = "; ".join(f"#{f.pk} {f.title} ({f.severity}, {f.get_state_display().lower()})" for f in found)
        return GateResult(False, f"Open findings at or above {min_severity}: {titles}.", len(found),
                          f"none at or above {min_severity}", evidence)
    return GateResult(True, f"No open findings at or above {min_severity}.", 0, f"none at or above {min_severity}", evidence)

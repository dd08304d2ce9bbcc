"""The effective policy of a promotion: the environment's policy plus what the model's
risk tier requires there. It only ever adds (approver roles, gates, monitoring rules)
or shortens (review interval), so a tier can never loosen an environment.

Two model-risk rules hold whatever the tier policies say:
- ``eu_ai_act_permitted``: a model in the EU AI Act "prohibited" category goes no
  further than the first environment (Dev): the gate is added, and blocks, for such models;
- ``risk_assessment_done``: an environment with ``requires_risk_assessment`` (Prod)
  takes only models with a risk tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Min

from governance.modelrisk.choices import EuAiActCategory
from governance.modelrisk.models import InventoryRecord, TierRequirement
from governance.models import Environment


@dataclass
class EffectivePolicy:
    environment: Environment
    tier: int | None
    eu_ai_act_category: str
    required_approver_roles: list[str]
    gates: list[dict]
    required_monitoring_rules: list[str] = field(default_factory=list)
    review_interval_days: int | None = None
    # Where each addition comes from, as a person reads it ("Tier 1 policy in Prod").
    tier_additions: dict = field(default_factory=dict)


def _shorter(a: int | None, b: int | None) -> int | None:
    values = [v for v in (a, b) if v]
    return min(values) if values else None


def combine(environment: Environment, record: InventoryRecord | None, requirement: TierRequirement | None,
            first_order: int) -> EffectivePolicy:
    """The policy from facts already loaded (no query): shared by the single and the batched form."""
    tier = record.tier if record is not None else None
    category = record.eu_ai_act_category if record is not None else ""
    gates = [{**g, "source": "environment"} for g in environment.gates]
    if environment.order > first_order and category == EuAiActCategory.PROHIBITED:
        gates.append({"kind": "eu_ai_act_permitted", "params": {}, "source": "model risk"})
    if environment.requires_risk_assessment:
        gates.append({"kind": "risk_assessment_done", "params": {}, "source": "model risk"})
    approver_roles = list(environment.required_approver_roles)
    monitoring: list[str] = []
    review = environment.review_interval_days
    additions = {}
    if requirement is not None:
        source = f"tier {tier} policy"
        extra_roles = [r for r in requirement.extra_approver_roles if r not in approver_roles]
        approver_roles += extra_roles
        gates += [{**g, "source": source} for g in requirement.gates]
        monitoring = list(requirement.required_monitoring_rules)
        review = _shorter(review, requirement.review_interval_days)
        additions = {"approver_roles": extra_roles, "gates": [g["kind"] for g in requirement.gates],
                     "monitoring_rules": monitoring, "review_interval_days": requirement.review_interval_days}
    return EffectivePolicy(
        environment=environment, tier=tier, eu_ai_act_category=category, required_approver_roles=approver_roles,
        gates=gates, required_monitoring_rules=monitoring, review_interval_days=review, tier_additions=additions,
    )


def _first_order() -> int:
    return Environment.objects.aggregate(first=Min("order"))["first"] or 0


def effective_policy(environment: Environment, model) -> EffectivePolicy:
    """Three queries: the model's record, the tier's requirement here, the first environment."""
    record = InventoryRecord.objects.filter(registered_model_id=model.pk).first()
    requirement = None
    if record is not None and record.tier is not None:
        requirement = TierRequirement.objects.filter(policy__tier=record.tier, environment=environment).first()
    return combine(environment, record, requirement, _first_order())


class PolicyBook:
    """Effective policies for many (environment, model) pairs, for lists: one query for the
    models' records, plus one for the tier requirements and one for the first environment
    unless the caller already holds them (``requirements``, ``environments``)."""

    def __init__(self, model_ids, *, requirements=None, environments=None):
        self.records = {r.registered_model_id: r for r in InventoryRecord.objects.filter(registered_model_id__in=set(model_ids)).order_by()}
        if requirements is None:
            requirements = TierRequirement.objects.select_related("policy")
        self.requirements = {(r.policy.tier, r.environment_id): r for r in requirements}
        self.first_order = min((e.order for e in environments), default=0) if environments is not None else _first_order()

    def policy(self, environment: Environment, model_id: int) -> EffectivePolicy:
        record = self.records.get(model_id)
        requirement = self.requirements.get((record.tier, environment.pk)) if record and record.tier else None
        return combine(environment, record, requirement, self.first_order)

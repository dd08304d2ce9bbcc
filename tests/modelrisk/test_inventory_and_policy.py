"""Inventory record, risk-tier questionnaire and override; tier → effective policy selection."""

import pytest

from governance import services as gov
from governance.modelrisk import services as mr
from governance.modelrisk.models import InventoryRecord, TierPolicy, TierRequirement
from governance.modelrisk.policy import effective_policy
from governance.modelrisk.questionnaire import compute_tier
from modelgate.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from modelgate.core.models import AuditEvent
from tests.governance.fixtures import LOW_RISK_ANSWERS, TIER_1_ANSWERS, assess, make_model, make_version
from tests.modelrisk.conftest import envs

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("answers, tier", [
    (TIER_1_ANSWERS, 1),
    ({**LOW_RISK_ANSWERS, "eu_ai_act_category": "prohibited"}, 1),
    ({"materiality": "high", "complexity": "high", "reliance": "automated", "decisions_about_people": True,
      "eu_ai_act_category": "minimal"}, 1),
    ({"materiality": "high", "complexity": "medium", "reliance": "supported", "decisions_about_people": False,
      "eu_ai_act_category": "limited"}, 2),
    (LOW_RISK_ANSWERS, 3),
])
def test_it_computes_the_tier_from_the_answers(answers, tier):
    assert compute_tier(answers) == tier


def test_it_stores_and_audits_the_answers_and_the_computed_tier(ds_owner, team_credit):
    model = make_model(user=ds_owner, team=team_credit, assessed=False)
    record = assess(user=ds_owner, model=model, answers=TIER_1_ANSWERS)
    assert (record.computed_tier, record.tier, record.eu_ai_act_category) == (1, 1, "high_risk")
    assert record.answers == TIER_1_ANSWERS and record.assessed_by == ds_owner
    event = AuditEvent.objects.get(action="modelrisk.assess")
    assert event.changes["computed_tier"] == {"before": None, "after": 1}
    assert event.changes["answers"]["after"] == TIER_1_ANSWERS


def test_it_refuses_incomplete_answers_naming_the_field(ds_owner, team_credit):
    model = make_model(user=ds_owner, team=team_credit, assessed=False)
    with pytest.raises(ApplicationError) as exc:
        mr.inventory_assess(user=ds_owner, model=model, answers={**TIER_1_ANSWERS, "reliance": "sometimes"})
    assert "reliance" in exc.value.fields
    assert not InventoryRecord.objects.filter(tier__isnull=False).exists()


def test_it_lets_only_the_owning_team_or_a_risk_officer_assess(ds_owner, outsider, risk, auditor, team_credit):
    model = make_model(user=ds_owner, team=team_credit, assessed=False)
    for user in (outsider, auditor):
        with pytest.raises(PermissionDeniedError):
            mr.inventory_assess(user=user, model=model, answers=LOW_RISK_ANSWERS)
    assert mr.inventory_assess(user=risk, model=model, answers=LOW_RISK_ANSWERS).tier == 3


def test_it_lets_a_risk_officer_override_the_tier_with_a_reason(ds_owner, risk, team_credit):
    model = make_model(user=ds_owner, team=team_credit)  # tier 3
    with pytest.raises(PermissionDeniedError):
        mr.inventory_override_tier(user=ds_owner, model=model, tier=1, reason="I think so")
    with pytest.raises(ApplicationError) as exc:
        mr.inventory_override_tier(user=risk, model=model, tier=1, reason="  ")
    assert "reason" in exc.value.fields
    record = mr.inventory_override_tier(user=risk, model=model, tier=1, reason="Feeds the capital model")
    assert (record.computed_tier, record.tier_override, record.tier) == (3, 1, 1)
    # A new assessment keeps the override: the risk officer's decision stands until lifted.
    assert assess(user=ds_owner, model=model).tier == 1
    event = AuditEvent.objects.get(action="modelrisk.override_tier")
    assert event.changes["tier"] == {"before": 3, "after": 1} and event.actor_username == risk.username


def test_it_adds_the_tier_requirements_to_the_environment_policy(ds_owner, team_credit, admin_user):
    model = make_model(user=ds_owner, team=team_credit, assessed=False)
    prod, uat = envs()["prod"], envs()["uat"]
    plain = effective_policy(prod, model)
    assert plain.tier is None and [g["kind"] for g in plain.gates][-1] == "risk_assessment_done"
    assert plain.required_approver_roles == ["business_approver", "risk_officer"]
    assert plain.review_interval_days == 365

    assess(user=ds_owner, model=model, answers=TIER_1_ANSWERS)
    policy_1 = TierPolicy.objects.get(tier=1)
    mr.tier_requirement_set(user=admin_user, policy=policy_1, environment=uat,
                            data={"extra_approver_roles": ["risk_officer"]})
    tier1_prod = effective_policy(prod, model)
    kinds = [g["kind"] for g in tier1_prod.gates]
    assert kinds[: len(prod.gates)] == [g["kind"] for g in prod.gates]  # the environment's, untouched, first
    assert {"validation_approved", "no_open_findings", "risk_assessment_done"} <= set(kinds)
    assert tier1_prod.review_interval_days == 180  # the shorter of 365 and the tier's 180
    assert tier1_prod.required_monitoring_rules == ["error_rate", "latency_p95"]
    tier1_uat = effective_policy(uat, model)
    assert tier1_uat.required_approver_roles == ["ml_engineer", "risk_officer"]
    # A tier's longer interval never loosens the environment's.
    TierRequirement.objects.filter(policy=policy_1, environment=prod).update(review_interval_days=900)
    assert effective_policy(prod, model).review_interval_days == 365


def test_it_needs_the_tier_approver_roles_before_approving(ds_owner, mle_teammate, risk, admin_user, team_credit):
    model = make_model(user=ds_owner, team=team_credit)  # tier 3
    mr.tier_requirement_set(user=admin_user, policy=TierPolicy.objects.get(tier=3), environment=envs()["uat"],
                            data={"extra_approver_roles": ["risk_officer"]})
    from tests.governance.fixtures import post_passing_ci

    version = make_version(user=ds_owner, model=model)
    post_passing_ci(user=ds_owner, version=version)
    req = gov.promotion_request_create(user=ds_owner, version=version, environment=envs()["uat"])
    gov.promotion_request_submit(user=ds_owner, request=req)
    req = gov.promotion_request_approve(user=mle_teammate, request=req, comment="tests pass")
    assert req.state == "pending"  # the tier's risk officer has not approved yet
    req = gov.promotion_request_approve(user=risk, request=req, comment="tier 3 but flagged")
    assert req.state == "approved"


def test_it_refuses_unknown_gate_kinds_and_roles_in_tier_requirements(admin_user, risk):
    policy = TierPolicy.objects.get(tier=2)
    with pytest.raises(PermissionDeniedError):
        mr.tier_requirement_set(user=risk, policy=policy, environment=envs()["uat"], data={"gates": []})
    with pytest.raises(ApplicationError) as exc:
        mr.tier_requirement_set(user=admin_user, policy=policy, environment=envs()["uat"],
                                data={"gates": [{"kind": "no_such_gate", "params": {}}]})
    assert "gates" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        mr.tier_requirement_set(user=admin_user, policy=policy, environment=envs()["uat"],
                                data={"extra_approver_roles": ["janitor"]})
    assert "extra_approver_roles" in exc.value.fields
    assert not TierRequirement.objects.filter(policy=policy, environment=envs()["uat"]).exists()


def test_it_keeps_an_unassessed_model_out_of_prod_only(ds_owner, mle_teammate, team_credit):
    from tests.governance.fixtures import post_passing_ci

    model = make_model(user=ds_owner, team=team_credit, assessed=False)
    version = make_version(user=ds_owner, model=model)
    post_passing_ci(user=ds_owner, version=version)
    gov.deployment_create_direct(user=ds_owner, version=version, environment=envs()["dev"])
    uat = gov.promotion_request_create(user=ds_owner, version=version, environment=envs()["uat"])
    gov.promotion_request_submit(user=ds_owner, request=uat)
    gov.promotion_request_approve(user=mle_teammate, request=uat, comment="ok")
    gov.promotion_request_deploy(user=ds_owner, request=uat)
    prod = gov.promotion_request_create(user=ds_owner, version=version, environment=envs()["prod"])
    with pytest.raises(ConflictError) as exc:
        gov.promotion_request_submit(user=ds_owner, request=prod)
    assert "Risk assessment required" in exc.value.message
    assess(user=ds_owner, model=model)
    assert gov.promotion_request_submit(user=ds_owner, request=prod).state == "pending"


def test_it_keeps_an_eu_prohibited_model_in_dev(ds_owner, team_credit):
    from tests.governance.fixtures import post_passing_ci

    model = make_model(user=ds_owner, team=team_credit, assessed=False)
    assess(user=ds_owner, model=model, answers={**LOW_RISK_ANSWERS, "eu_ai_act_category": "prohibited"})
    version = make_version(user=ds_owner, model=model)
    post_passing_ci(user=ds_owner, version=version)
    gov.deployment_create_direct(user=ds_owner, version=version, environment=envs()["dev"])
    uat = gov.promotion_request_create(user=ds_owner, version=version, environment=envs()["uat"])
    with pytest.raises(ConflictError) as exc:
        gov.promotion_request_submit(user=ds_owner, request=uat)
    assert "prohibited" in exc.value.message

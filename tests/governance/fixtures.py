"""Registry data for governance tests, created through the registry's own services
(team object permissions assigned exactly as in production)."""

from governance import services as gov
from registry import services as registry

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"income": {"type": "number"}, "debt_ratio": {"type": "number"}, "age": {"type": "integer"}},
}


# Tier 3 answers: Prod's "risk assessment required" gate passes and the tier adds only
# "no open high finding" there, so tests of other rules see the environment policy as before.
LOW_RISK_ANSWERS = {"materiality": "low", "complexity": "low", "reliance": "informational",
                    "decisions_about_people": False, "eu_ai_act_category": "minimal"}
TIER_1_ANSWERS = {"materiality": "high", "complexity": "medium", "reliance": "automated",
                  "decisions_about_people": True, "eu_ai_act_category": "high_risk"}


def assess(*, user, model, answers=None):
    """Answer the model's risk-tier questionnaire through the service (audited like the API)."""
    from governance.modelrisk import services as modelrisk

    return modelrisk.inventory_assess(user=user, model=model, answers=answers or LOW_RISK_ANSWERS)


def make_model(*, user, team, name="credit-scoring", assessed=True):
    """A registered model; ``assessed`` answers the questionnaire as Tier 3 (low risk)."""
    model = registry.registered_model_create(user=user, name=name, team=team, description="test model")
    if assessed:
        assess(user=user, model=model)
    return model


def make_version(*, user, model, metrics=None, input_schema=None):
    version, _ = registry.modelversion_register(
        user=user, registered_model=model, framework="sklearn",
        metrics=metrics if metrics is not None else {"auc": 0.86},
        input_schema=input_schema or INPUT_SCHEMA,
    )
    return registry.modelversion_finalize(user=user, version=version)


def post_passing_ci(*, user, version, p95_ms=40.0):
    for kind in ("unit", "e2e"):
        gov.ci_test_result_post(user=user, version=version, kind=kind, passed=True, ci_run_id="run-1")
    gov.ci_test_result_post(user=user, version=version, kind="acceptance", passed=True,
                            metrics={"p95_ms": p95_ms}, ci_run_id="run-1")

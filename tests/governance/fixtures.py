"""Registry data for governance tests, created through the registry's own services
(team object permissions assigned exactly as in production)."""

from governance import services as gov
from registry import services as registry

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"income": {"type": "number"}, "debt_ratio": {"type": "number"}, "age": {"type": "integer"}},
}


def make_model(*, user, team, name="credit-scoring"):
    return registry.registered_model_create(user=user, name=name, team=team, description="test model")


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

"""The quality-gate interface and the registry of gate kinds.

Governance defines it; apps that know facts governance does not (monitoring's
explainability and fairness reports) register their kinds in their
``AppConfig.ready()``, so dependencies never point back from governance to
monitoring.

A gate in an environment policy is ``{"kind": "...", "params": {...}}``. Its
evaluator receives the model version and the params and returns a
``GateResult``, which is frozen into the promotion request as evidence.

The service adds a reserved ``params["_context"]`` with what a gate may need
beyond the version: ``{"environment": slug, "protected_attributes": [...]}``.
A kind registered with ``overridable=True`` may be overridden by a written
justification that a risk officer approves; the service handles that, the
evaluator only reports the facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class GateResult:
    passed: bool
    message: str
    value: object = None
    threshold: object = None
    # What a person needs to check the decision: report ids, dataset hashes, per-group figures.
    evidence: dict = field(default_factory=dict)
    # True when the gate cannot decide and a person must look (e.g. a group too small to judge).
    needs_review: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GateKind:
    kind: str
    label: str
    evaluate: Callable[..., GateResult]  # evaluate(version, params) -> GateResult
    params_help: str = ""
    overridable: bool = False
    # Where a person checks the verdict: link(evidence) -> [(text, url)], e.g. the report it read.
    link: Callable[[dict], list[tuple[str, str]]] | None = None


GATE_KINDS: dict[str, GateKind] = {}


def register_gate_kind(kind: str, *, label: str, params_help: str = "", overridable: bool = False, link=None):
    """Decorator: ``@register_gate_kind("metric_threshold", label="Metric threshold")``."""

    def register(func):
        GATE_KINDS[kind] = GateKind(
            kind=kind, label=label, evaluate=func, params_help=params_help, overridable=overridable, link=link
        )
        return func

    return register


def evaluate_gate(kind: str, version, params: dict) -> GateResult:
    gate_kind = GATE_KINDS.get(kind)
    if gate_kind is None:
        return GateResult(passed=False, message=f"Unknown gate kind {kind!r}: no app registers it.")
    try:
        return gate_kind.evaluate(version, params or {})
    except Exception as exc:  # a broken gate blocks, it never passes silently
        return GateResult(passed=False, message=f"The gate could not be evaluated: {exc}")


# --- Built-in gate kinds ------------------------------------------------------

_OPERATORS = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, not {value!r}")
    return float(value)


@register_gate_kind(
    "metric_threshold",
    label="Metric threshold",
    params_help='{"metric": "auc", "op": ">=", "value": 0.8}',
)
def metric_threshold(version, params) -> GateResult:
    metric, op = params.get("metric"), params.get("op", ">=")
    if op not in _OPERATORS:
        raise ValueError(f"op must be one of {', '.join(_OPERATORS)}")
    threshold = _number(params.get("value"), "value")
    actual = (version.metrics or {}).get(metric)
    if actual is None:
        return GateResult(False, f"The version reports no metric {metric!r}.", None, f"{op} {threshold}")
    actual = _number(actual, metric)
    passed = _OPERATORS[op](actual, threshold)
    verdict = "meets" if passed else "does not meet"
    return GateResult(passed, f"{metric} = {actual:g} {verdict} {op} {threshold:g}.", actual, f"{op} {threshold}")


@register_gate_kind(
    "in_previous_environment",
    label="Version was deployed in the previous environment",
    params_help="{} — the previous environment in promotion order",
)
def in_previous_environment(version, params) -> GateResult:
    from governance.choices import DeploymentStatus
    from governance.models import DeploymentSplit, Environment

    env = Environment.objects.get(slug=params["_context"]["environment"])
    previous = env.previous()
    if previous is None:
        return GateResult(True, f"{env.name} is the first environment.")
    # A rolled-back deployment does not count: it was withdrawn, not accepted.
    split = (
        DeploymentSplit.objects.filter(
            version=version,
            deployment__environment=previous,
            deployment__status__in=[DeploymentStatus.ACTIVE, DeploymentStatus.SUPERSEDED, DeploymentStatus.RETIRED],
        )
        .order_by("deployment__created_at")
        .values("deployment_id", "deployment__created_at")
        .first()
    )
    if split is None:
        return GateResult(False, f"The version has never been deployed in {previous.name}.", None, previous.slug)
    return GateResult(
        True,
        f"The version was deployed in {previous.name} (deployment #{split['deployment_id']}).",
        split["deployment__created_at"].isoformat(),
        previous.slug,
        evidence={"deployment_id": split["deployment_id"]},
    )


def _latest_results(version, kinds) -> dict:
    from governance.models import CITestResult

    latest = {}
    for result in CITestResult.objects.filter(version=version, kind__in=kinds).order_by("-created_at", "-id"):
        latest.setdefault(result.kind, result)
    return latest


@register_gate_kind(
    "ci_test_results",
    label="Required CI test results pass",
    params_help='{"required": ["unit", "e2e", "acceptance", "ab_comparison"]}',
)
def ci_test_results(version, params) -> GateResult:
    from governance.choices import TestKind

    required = params.get("required") or [TestKind.UNIT, TestKind.E2E]
    unknown = [k for k in required if k not in TestKind.values]
    if unknown:
        raise ValueError(f"unknown test kinds {unknown}")
    latest = _latest_results(version, required)
    missing = [k for k in required if k not in latest]
    failed = [k for k in required if k in latest and not latest[k].passed]
    evidence = {k: {"result_id": r.pk, "passed": r.passed, "metrics": r.metrics, "ci_run_id": r.ci_run_id}
                for k, r in latest.items()}
    if missing or failed:
        parts = []
        if missing:
            parts.append(f"not posted: {', '.join(missing)}")
        if failed:
            parts.append(f"failed: {', '.join(failed)}")
        return GateResult(False, "CI test results " + "; ".join(parts) + ".", None, required, evidence)
    return GateResult(True, f"Latest CI results pass: {', '.join(required)}.", required, required, evidence)


@register_gate_kind(
    "latency_acceptance",
    label="Latency acceptance test (p95) passes",
    params_help='{"max_p95_ms": 200} — read from the latest acceptance result\'s metrics.p95_ms',
)
def latency_acceptance(version, params) -> GateResult:
    from governance.choices import TestKind

    limit = _number(params.get("max_p95_ms"), "max_p95_ms")
    result = _latest_results(version, [TestKind.ACCEPTANCE]).get(TestKind.ACCEPTANCE)
    if result is None:
        return GateResult(False, "No acceptance test result has been posted.", None, limit)
    p95 = result.metrics.get("p95_ms")
    if p95 is None:
        return GateResult(False, f"Acceptance result #{result.pk} reports no p95_ms.", None, limit, {"result_id": result.pk})
    p95 = _number(p95, "p95_ms")
    passed = p95 <= limit
    return GateResult(
        passed,
        f"p95 latency {p95:g} ms {'≤' if passed else '>'} {limit:g} ms.",
        p95,
        limit,
        {"result_id": result.pk, "ci_run_id": result.ci_run_id},
    )


def input_names(schema) -> list[str]:
    """Input field names from a JSON Schema (``properties``) or Avro record (``fields``) schema."""
    if not isinstance(schema, dict):
        return []
    if isinstance(schema.get("properties"), dict):
        return list(schema["properties"])
    if isinstance(schema.get("fields"), list):
        return [f["name"] for f in schema["fields"] if isinstance(f, dict) and "name" in f]
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return input_names(schema["items"])
    return []


@register_gate_kind(
    "no_protected_attribute_input",
    label="No protected attribute is a model input",
    params_help='{"attributes": ["gender"]} — defaults to the environment\'s protected attribute list',
    overridable=True,
)
def no_protected_attribute_input(version, params) -> GateResult:
    attributes = params.get("attributes") or params.get("_context", {}).get("protected_attributes") or []
    protected = {a.lower() for a in attributes}
    names = input_names(version.input_schema)
    found = sorted(n for n in names if n.lower() in protected)
    if found:
        return GateResult(
            False, f"Protected attributes are model inputs: {', '.join(found)}.", found, sorted(protected),
            {"inputs": names},
        )
    return GateResult(True, "No protected attribute is a model input.", [], sorted(protected), {"inputs": names})

"""The quality-gate interface and the registry of gate kinds.

Governance defines it; apps that know facts governance does not (monitoring's
explainability and fairness reports) register their kinds in their
``AppConfig.ready()``, so dependencies never point back from governance to
monitoring.

A gate in an environment policy is ``{"kind": "...", "params": {...}}``. Its
evaluator receives the model version and the params and returns a
``GateResult``, which is frozen into the promotion request as evidence.
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


GATE_KINDS: dict[str, GateKind] = {}


def register_gate_kind(kind: str, *, label: str, params_help: str = ""):
    """Decorator: ``@register_gate_kind("metric_threshold", label="Metric threshold")``."""

    def register(func):
        GATE_KINDS[kind] = GateKind(kind=kind, label=label, evaluate=func, params_help=params_help)
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

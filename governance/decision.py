"""The approver's decision in words: what changes for whom, every gate's verdict,
warnings that are not gates, and the candidate side by side with the version that
serves in the target environment now.

Governance owns the page and the facts it holds (metrics, CI results, deployments).
Apps that know more fill three extension points in their ``AppConfig.ready()``:

Each is a ``modelgate.core.extensions.ExtensionPoint``, registered under a key:

- ``register_decision_warning(key, func)``: ``func(decision) -> list[DecisionWarning]``
  (monitoring: failing or stale drift report, empty model-card considerations, open SLA
  alerts, reports on another dataset than the gates read; model risk: open validation
  findings);
- ``register_comparison_rows(key, func)``: ``func(decision) -> list[ComparisonRow]``
  (monitoring: fairness ratio per group, drift verdict);
- ``register_evidence_section(key, func)``: ``func(decision) -> list[EvidenceSection]``, the
  evidence pack's chapters (monitoring: reports' key tables and charts, the model card).

Every provider receives a ``Decision`` about a request the user may see; the version and
the serving one belong to the same model, hence the same team, so providers may read
their rows by version without another permission check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from governance.choices import DeploymentStatus, TestKind
from governance.models import CITestResult, Deployment, PromotionRequest
from modelgate.core import readable
from modelgate.core.extensions import ExtensionPoint
from registry.models import ModelVersion

CANDIDATE, CURRENT = "candidate", "current"


@dataclass
class DecisionWarning:
    """Something a careful approver wants to see that no gate checks."""

    topic: str  # "Drift", "Model card", "SLA alerts", "Validation findings"…
    message: str
    url: str = ""
    link_text: str = ""


@dataclass
class ComparisonRow:
    """One line of the side-by-side table; ``better`` names the better side, if any."""

    section: str
    label: str
    candidate: str
    current: str
    delta: str = ""
    better: str = ""  # CANDIDATE, CURRENT or ""


@dataclass
class EvidenceSection:
    """A chapter of the evidence pack: a template rendered with its own context.
    Charts in it are server-drawn SVG (WeasyPrint runs no JavaScript)."""

    title: str
    template: str
    context: dict = field(default_factory=dict)


@dataclass
class Decision:
    request: PromotionRequest
    user: object
    candidate: ModelVersion
    current: ModelVersion | None  # the version with the most traffic in the target environment now
    deployment: Deployment | None  # the active deployment there, if any
    splits: list = field(default_factory=list)  # (version number, weight) of that deployment
    gates: list[dict] = field(default_factory=list)

    @property
    def environment(self):
        return self.request.environment

    @property
    def model(self):
        return self.candidate.registered_model

    def gate_evidence(self, key: str) -> list:
        """Every value of ``key`` in the gates' evidence (e.g. the dataset hashes they read)."""
        return [g["evidence"][key] for g in self.gates if g.get("evidence", {}).get(key)]


DECISION_WARNINGS: ExtensionPoint[Callable[[Decision], list[DecisionWarning]]] = ExtensionPoint("decision warnings")
COMPARISON_ROWS: ExtensionPoint[Callable[[Decision], list[ComparisonRow]]] = ExtensionPoint("comparison rows")
EVIDENCE_SECTIONS: ExtensionPoint[Callable[[Decision], list[EvidenceSection]]] = ExtensionPoint("evidence sections")


def register_decision_warning(key: str, func, *, order: int = 100):
    return DECISION_WARNINGS.register(key, func, order=order)


def register_comparison_rows(key: str, func, *, order: int = 100):
    return COMPARISON_ROWS.register(key, func, order=order)


def register_evidence_section(key: str, func, *, order: int = 100):
    return EVIDENCE_SECTIONS.register(key, func, order=order)


# --- building it ------------------------------------------------------------------------


def decision_for_request(user, req: PromotionRequest, gates: list[dict]) -> Decision:
    """The candidate and what serves in the target environment now (two queries)."""
    deployment = (
        Deployment.objects.filter(registered_model_id=req.version.registered_model_id, environment_id=req.environment_id,
                                  status=DeploymentStatus.ACTIVE)
        .prefetch_related("splits__version")
        .first()
    )
    current, splits = None, []
    if deployment is not None:
        ordered = sorted(deployment.splits.all(), key=lambda s: (-s.weight, s.version.version))
        splits = [(s.version.version, s.weight) for s in ordered]
        others = [s.version for s in ordered if s.version_id != req.version_id]
        current = others[0] if others else None
    return Decision(request=req, user=user, candidate=req.version, current=current, deployment=deployment,
                    splits=splits, gates=gates)


def summary(decision: Decision) -> dict:
    """The top of the page in words: what changes for whom, and the gates' verdicts counted."""
    req, model, env = decision.request, decision.model, decision.environment
    name = f"{model.name} v{decision.candidate.version}"
    if decision.current is not None:
        change = f"{name} replaces v{decision.current.version} in {env.name}, 100 % of traffic."
        if len(decision.splits) > 1:
            shares = " and ".join(f"v{number} {weight} %" for number, weight in decision.splits)
            change = f"{name} replaces the current split in {env.name} ({shares}) and takes 100 % of traffic."
    elif decision.deployment is not None:  # the candidate already serves alone there
        change = f"{name} already serves all of {env.name}'s traffic; approving renews its approval."
    else:
        change = f"{name} becomes the first version of {model.name} in {env.name}, with 100 % of traffic."
    who = f"Everyone calling {model.name} in {env.name} gets its answers"
    who += f" (owned by {model.team.name})." if getattr(model, "team", None) else "."
    if model.description:
        who += f" The model: {model.description.strip().rstrip('.')}."
    counts = {"pass": 0, "review": 0, "fail": 0}
    for g in decision.gates:
        counts[g["state"]] += 1
    total = len(decision.gates)
    if not total:
        verdict = f"{env.name} requires no quality gates."
    elif counts["fail"]:
        verdict = f"{counts['fail']} of {total} gates fail."
    elif counts["review"]:
        verdict = f"{counts['pass'] - counts['review']} of {total} gates pass outright; {counts['review']} need a person to look."
    else:
        verdict = f"All {total} gates pass."
    return {"change": change, "who": who, "verdict": verdict, "counts": counts, "deployed_on_approval": req.state}


def warnings(decision: Decision) -> list[DecisionWarning]:
    out = []
    for provider in DECISION_WARNINGS:
        out += provider(decision)
    return out


def evidence_sections(decision: Decision) -> list[EvidenceSection]:
    out = []
    for provider in EVIDENCE_SECTIONS:
        out += provider(decision)
    return out


# --- the comparison -----------------------------------------------------------------------

# Metrics where a higher value is better; lower for errors and losses; unknown ones are not marked.
HIGHER_IS_BETTER = {"auc", "roc_auc", "accuracy", "f1", "precision", "recall", "r2", "ks", "gini", "average_precision"}
LOWER_IS_BETTER = {"rmse", "mae", "mse", "log_loss", "logloss", "brier", "loss", "error_rate", "mape"}


def compare_numbers(section: str, label: str, candidate, current, *, higher_is_better: bool | None, unit: str = "",
                    tolerance: float = 1e-9) -> ComparisonRow:
    """A row with both values rounded, the delta, and the better side when the direction is known."""
    delta, better = "", ""
    if _is_number(candidate) and _is_number(current):
        diff = float(candidate) - float(current)
        sign = "+" if diff > 0 else "−" if diff < 0 else "±"
        delta = f"{sign}{readable.quantity(abs(diff), unit)}"
        if higher_is_better is not None and abs(diff) > tolerance:
            better = CANDIDATE if (diff > 0) == higher_is_better else CURRENT
    return ComparisonRow(section=section, label=label, candidate=readable.quantity(candidate, unit),
                         current=readable.quantity(current, unit) if current is not None else "—", delta=delta, better=better)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _direction(metric: str) -> bool | None:
    key = metric.lower()
    if key in HIGHER_IS_BETTER:
        return True
    if key in LOWER_IS_BETTER:
        return False
    return None


def _acceptance_p95(version) -> float | None:
    result = (CITestResult.objects.filter(version=version, kind=TestKind.ACCEPTANCE)
              .order_by("-created_at", "-id").values_list("metrics", flat=True).first())
    value = (result or {}).get("p95_ms")
    return value if _is_number(value) else None


def comparison(decision: Decision) -> list[ComparisonRow]:
    """Headline metrics and CI latency from governance's own facts, then the rows other apps add."""
    candidate, current = decision.candidate, decision.current
    rows = []
    cand_metrics, curr_metrics = candidate.metrics or {}, (current.metrics or {}) if current else {}
    for metric in sorted(set(cand_metrics) | set(curr_metrics)):
        rows.append(compare_numbers("Headline metrics", metric, cand_metrics.get(metric), curr_metrics.get(metric),
                                    higher_is_better=_direction(metric)))
    rows.append(compare_numbers("Latency", "p95 latency (CI acceptance test)", _acceptance_p95(candidate),
                                _acceptance_p95(current) if current else None, higher_is_better=False, unit="ms"))
    for provider in COMPARISON_ROWS:
        rows += provider(decision)
    return rows


# --- gate links ------------------------------------------------------------------------------


def gate_links(gate: dict, ci_results: dict[int, CITestResult]) -> list[tuple[str, str]]:
    """Where a gate's verdict came from: the report or CI result it read (label, url)."""
    from governance.gates import GATE_KINDS

    evidence = gate.get("evidence") or {}
    kind = GATE_KINDS.get(gate.get("kind", ""))
    if kind is not None and kind.link is not None:
        return kind.link(evidence)
    links = []
    result_ids = [evidence["result_id"]] if evidence.get("result_id") else [
        v["result_id"] for v in evidence.values() if isinstance(v, dict) and v.get("result_id")]
    for pk in result_ids:
        result = ci_results.get(pk)
        if result is None:
            continue
        text = f"CI {result.get_kind_display().lower()} result #{pk}" + (f" (run {result.ci_run_id})" if result.ci_run_id else "")
        links.append((text, result.details_url or f"#ci-result-{pk}"))
    return links


def ci_results_for_gates(gates: list[dict]) -> dict[int, CITestResult]:
    ids = set()
    for g in gates:
        evidence = g.get("evidence") or {}
        if evidence.get("result_id"):
            ids.add(evidence["result_id"])
        ids |= {v["result_id"] for v in evidence.values() if isinstance(v, dict) and v.get("result_id")}
    return {r.pk: r for r in CITestResult.objects.filter(pk__in=ids)} if ids else {}

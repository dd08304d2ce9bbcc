"""Gate kinds backed by stored reports, registered with governance in ``MonitoringConfig.ready()``.

A gate reads exactly what a person approved: the stored report's values and
their named metrics, re-judged with the gate's own thresholds.
"""

from __future__ import annotations

from governance.gates import GateResult, register_gate_kind
from monitoring.choices import ReportKind
from monitoring.selectors.reports import latest_succeeded_report


def _evidence(report) -> dict:
    return {
        "report_id": report.pk, "kind": report.kind, "fingerprint": report.fingerprint,
        "dataset_sha256": (report.inputs.get("dataset") or {}).get("sha256"),
        "model_sha256": (report.inputs.get("model") or {}).get("sha256"),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
    }


def explainability_report_exists(version, params: dict) -> GateResult:
    report = latest_succeeded_report(version=version, kind=ReportKind.EXPLAINABILITY)
    if report is None:
        return GateResult(passed=False, message="No succeeded explainability report exists for this version.")
    return GateResult(passed=True, message=f"Explainability report #{report.pk} exists.", value=report.pk, evidence=_evidence(report))


def fairness_report_passes(version, params: dict) -> GateResult:
    """Four-fifths rule on the stored per-group selection rates.

    ``min_ratio`` (default 0.8) and ``min_group_n`` (default: the report's) may
    be set in the gate. A group below ``min_group_n`` never fails the gate:
    the result passes with ``needs_review`` so a person looks at it.
    """
    min_ratio = float(params.get("min_ratio", 0.8))
    report = latest_succeeded_report(version=version, kind=ReportKind.FAIRNESS)
    if report is None:
        return GateResult(passed=False, message="No succeeded fairness report exists for this version.", threshold=min_ratio)
    results = report.results or {}
    min_n = int(params.get("min_group_n", (results.get("parameters") or {}).get("min_group_n", 100)))
    failing, review, lowest, per_group = [], [], None, {}
    for grouping in results.get("groupings", []):
        groups = grouping["groups"]
        if not groups or groups[0]["metrics"].get("selection_rate") is None:
            return GateResult(passed=False, message="The fairness report has no selection rates (a regressor?); the four-fifths rule does not apply.", evidence=_evidence(report))
        eligible = [g for g in groups if g["metrics"]["count"] >= min_n]
        best = max((g["metrics"]["selection_rate"] for g in eligible), default=None)
        for g in groups:
            if best is None or best <= 0:
                review.append(g["group"])
                continue
            ratio = g["metrics"]["selection_rate"] / best
            per_group[g["group"]] = {"selection_rate": g["metrics"]["selection_rate"], "ratio_to_max": ratio, "count": g["metrics"]["count"],
                                     "interval": g["metrics"].get("intervals", {}).get("selection_rate")}
            if g["metrics"]["count"] < min_n:
                if ratio < min_ratio:
                    review.append(g["group"])
                continue
            lowest = ratio if lowest is None else min(lowest, ratio)
            if ratio < min_ratio:
                failing.append(g["group"])
    evidence = {**_evidence(report), "min_group_n": min_n, "groups": per_group, "failing_groups": failing, "review_groups": review}
    if failing:
        return GateResult(passed=False, message=f"Four-fifths rule fails for: {', '.join(failing)} (selection-rate ratio below {min_ratio}).",
                          value=lowest, threshold=min_ratio, evidence=evidence)
    if review:
        return GateResult(passed=True, needs_review=True, value=lowest, threshold=min_ratio, evidence=evidence,
                          message=f"No group with at least {min_n} rows fails; groups too small to judge need a person: {', '.join(review)}.")
    return GateResult(passed=True, message=f"Every group's selection-rate ratio is at least {min_ratio}.", value=lowest, threshold=min_ratio, evidence=evidence)


def register() -> None:
    from monitoring.decision import report_link

    register_gate_kind("explainability_report_exists", label="Explainability report exists", params_help="{}",
                       link=report_link)(explainability_report_exists)
    register_gate_kind("fairness_report_passes", label="Fairness report passes the four-fifths rule",
                       params_help='{"min_ratio": 0.8, "min_group_n": 100}', link=report_link)(fairness_report_passes)

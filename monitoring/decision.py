"""Monitoring's part of the approver's decision page and evidence pack, plugged into
governance's extension points in ``MonitoringConfig.ready()``: warnings no gate checks
(drift, model card, open SLA alerts, reports on another dataset than the gates read),
fairness and drift side by side with the serving version, and the pack's report chapters.

Reads by version only: governance hands over a decision about a request the user may
see, and both versions belong to that request's model (the same team).
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from governance.decision import (
    CANDIDATE,
    CURRENT,
    ComparisonRow,
    Decision,
    DecisionWarning,
    EvidenceSection,
    compare_numbers,
    register_comparison_rows,
    register_decision_warning,
    register_evidence_section,
)
from modelgate.core import readable
from monitoring import presentation, svg
from monitoring.choices import ReportKind, ReportStatus
from monitoring.models import ModelCard, Report
from monitoring.reports import modelcard as mc

# A drift report older than this no longer describes the data the model will meet.
DRIFT_STALE_AFTER = timedelta(days=30)
VERDICT_RANK = {"pass": 0, "warn": 1, "needs_review": 1, "fail": 2}


def _latest(version, kind: str) -> Report | None:
    if version is None:
        return None
    return (Report.objects.filter(version=version, kind=kind, status=ReportStatus.SUCCEEDED)
            .select_related("dataset").order_by("-finished_at", "-id").first())


def _report_url(report: Report) -> str:
    return reverse("monitoring:report-detail", args=[report.pk])


def _dataset_sha(report: Report) -> str:
    return (report.inputs.get("dataset") or {}).get("sha256") or ""


# --- warnings -----------------------------------------------------------------------------


def drift_warnings(decision: Decision) -> list[DecisionWarning]:
    report = _latest(decision.candidate, ReportKind.DRIFT)
    version = f"v{decision.candidate.version}"
    if report is None:
        last_failed = Report.objects.filter(version=decision.candidate, kind=ReportKind.DRIFT, status=ReportStatus.FAILED).first()
        if last_failed is not None:
            return [DecisionWarning("Drift", f"The drift report of {version} failed to compute: {last_failed.error[:200]}",
                                    _report_url(last_failed), f"drift report #{last_failed.pk}")]
        return [DecisionWarning("Drift", f"No drift report exists for {version}: nobody compared its data with the training data.")]
    out = []
    if report.verdict in ("fail", "warn"):
        drifting = [r["feature"] for r in (report.results or {}).get("features") or [] if r.get("verdict") not in (None, "pass")]
        words = "fails" if report.verdict == "fail" else "warns"
        out.append(DecisionWarning("Drift", f"The drift report {words}: {', '.join(drifting) or 'some features'} "
                                   f"{'have' if len(drifting) != 1 else 'has'} drifted from the reference data.",
                                   _report_url(report), f"drift report #{report.pk}"))
    if report.finished_at and timezone.now() - report.finished_at > DRIFT_STALE_AFTER:
        out.append(DecisionWarning("Drift", f"The drift report is stale: computed {readable.when(report.finished_at)}, "
                                   f"more than {DRIFT_STALE_AFTER.days} days ago.", _report_url(report), f"drift report #{report.pk}"))
    return out


def model_card_warnings(decision: Decision) -> list[DecisionWarning]:
    card = ModelCard.objects.filter(version=decision.candidate).only("authored").first()
    if card is None:
        return [DecisionWarning("Model card", f"v{decision.candidate.version} has no model card.")]
    considerations = (card.authored or {}).get("considerations") or {}
    if not any(considerations.get(name) for name in mc.AUTHORED_FIELDS["considerations"]):
        return [DecisionWarning("Model card", "The model card's considerations are empty: nobody wrote its intended users, "
                                "use cases, limitations, trade-offs or ethical considerations.",
                                reverse("monitoring:modelcard-detail", args=[decision.candidate.pk]), "model card")]
    return []


def sla_alert_warnings(decision: Decision) -> list[DecisionWarning]:
    from monitoring.telemetry.choices import AlertState
    from monitoring.telemetry.models import Alert

    if decision.deployment is None:
        return []
    alerts = Alert.objects.filter(deployment=decision.deployment).exclude(state=AlertState.RESOLVED).select_related("rule")
    return [DecisionWarning("SLA alerts", f"Open alert in {decision.environment.name}: {alert.summary} "
                            f"({alert.get_state_display().lower()} since {readable.when(alert.opened_at)}).",
                            reverse("telemetry:alert-detail", args=[alert.pk]), f"alert #{alert.pk}")
            for alert in alerts]


def dataset_warnings(decision: Decision) -> list[DecisionWarning]:
    """Reports computed on another dataset than the one the gates read."""
    gate_shas = set(decision.gate_evidence("dataset_sha256"))
    if not gate_shas:
        return []
    out = []
    for kind in ReportKind.values:
        report = _latest(decision.candidate, kind)
        if report is not None and _dataset_sha(report) and _dataset_sha(report) not in gate_shas:
            out.append(DecisionWarning(
                "Datasets", f"The {report.get_kind_display().lower()} report was computed on dataset “{report.dataset.name}” "
                f"(SHA-256 {_dataset_sha(report)[:12]}…), not on the one the gates read ({', '.join(s[:12] + '…' for s in gate_shas)}).",
                _report_url(report), f"{report.get_kind_display().lower()} report #{report.pk}"))
    return out


# --- side by side -------------------------------------------------------------------------


def _ratios(report: Report | None) -> dict[tuple[str, str], float]:
    out = {}
    for grouping in ((report.results or {}).get("groupings") or []) if report else []:
        for group in grouping["groups"]:
            ratio = group["metrics"].get("selection_rate_ratio_to_max")
            if ratio is not None:
                out[(presentation.grouping_name(grouping), group["group"])] = ratio  # group: "gender=female"
    return out


def fairness_rows(decision: Decision) -> list[ComparisonRow]:
    candidate, current = _ratios(_latest(decision.candidate, ReportKind.FAIRNESS)), _ratios(_latest(decision.current, ReportKind.FAIRNESS))
    return [compare_numbers("Fairness: selection-rate ratio to the most selected group (four-fifths rule: ≥ 0.8)",
                            group.replace("=", " = "), candidate.get((grouping, group)), current.get((grouping, group)), higher_is_better=True)
            for grouping, group in sorted(set(candidate) | set(current))]


def drift_rows(decision: Decision) -> list[ComparisonRow]:
    candidate, current = _latest(decision.candidate, ReportKind.DRIFT), _latest(decision.current, ReportKind.DRIFT)
    if candidate is None and current is None:
        return []
    words = {"pass": "no drift", "warn": "warns", "fail": "drifted"}

    def text(report):
        if report is None:
            return "no report"
        return f"{words.get(report.verdict, report.verdict)} ({readable.when(report.finished_at)})"

    better = ""
    if candidate is not None and current is not None and candidate.verdict != current.verdict:
        better = CANDIDATE if VERDICT_RANK.get(candidate.verdict, 3) < VERDICT_RANK.get(current.verdict, 3) else CURRENT
    return [ComparisonRow("Drift", "Drift report verdict", text(candidate), text(current), better=better)]


# --- the evidence pack ---------------------------------------------------------------------


def report_sections(decision: Decision) -> list[EvidenceSection]:
    sections = []
    for kind in (ReportKind.FAIRNESS, ReportKind.DRIFT, ReportKind.EXPLAINABILITY):
        report = _latest(decision.candidate, kind)
        if report is None:
            continue
        results = report.results or {}
        context = {"report": report, "dataset_sha256": _dataset_sha(report)}
        if kind == ReportKind.FAIRNESS:
            tables = presentation.fairness_tables(results, dataset=report.dataset)
            context["fairness"] = tables
            context["charts"] = [svg.selection_rate_chart(g) for g in tables["groupings"]]
        elif kind == ReportKind.DRIFT:
            context["drift"] = presentation.drift_table(results)
            context["charts"] = [svg.psi_chart(context["drift"], results.get("parameters") or {})]
        else:
            context["importance"] = (results.get("global_importance") or [])[:10]
            context["explained_output"] = results.get("explained_output")
            context["charts"] = [svg.importance_chart(context["importance"], results.get("explained_output"))]
        sections.append(EvidenceSection(f"{report.get_kind_display()} report #{report.pk}", "monitoring/pack/report.html", context))
    card = ModelCard.objects.filter(version=decision.candidate).first()
    if card is not None:
        merged = mc.merge(card.generated, card.authored)
        considerations = [(readable.label(name), merged.get("considerations", {}).get(name) or [])
                          for name in mc.AUTHORED_FIELDS["considerations"]]
        sections.append(EvidenceSection("Model card", "monitoring/pack/model_card.html",
                                        {"card": card, "merged": merged, "considerations": considerations}))
    return sections


def register() -> None:
    for order, provider in enumerate((drift_warnings, model_card_warnings, sla_alert_warnings, dataset_warnings)):
        register_decision_warning(f"monitoring.{provider.__name__}", provider, order=10 + order)
    register_comparison_rows("monitoring.fairness", fairness_rows, order=10)
    register_comparison_rows("monitoring.drift", drift_rows, order=20)
    register_evidence_section("monitoring.reports", report_sections, order=10)


def report_link(evidence: dict) -> list[tuple[str, str]]:
    """A report-backed gate links the report it read."""
    if not evidence.get("report_id"):
        return []
    kind = evidence.get("kind", "")
    return [(f"{kind} report #{evidence['report_id']}".strip().capitalize(), reverse("monitoring:report-detail", args=[evidence["report_id"]]))]

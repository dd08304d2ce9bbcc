"""What monitoring tells governance's model-risk layer, registered in the AppConfigs' ready():
the reports a validation relies on (frozen into its evidence, offered to the documentation
prefill) and which SLA metrics each deployment is monitored on (required Prod monitoring
rules of a tier). Governance never imports monitoring."""

from __future__ import annotations

from monitoring.choices import ReportStatus


def report_evidence(version) -> list[dict]:
    """The newest succeeded report of each kind for the version: ids, hashes and verdicts."""
    from monitoring.models import Report

    latest: dict[str, Report] = {}
    for report in (Report.objects.filter(version=version, status=ReportStatus.SUCCEEDED)
                   .only("pk", "kind", "fingerprint", "verdict", "finished_at", "inputs").order_by("-finished_at", "-id")):
        latest.setdefault(report.kind, report)
    return [{
        "report_id": r.pk, "kind": r.kind, "fingerprint": r.fingerprint, "verdict": r.verdict,
        "dataset_sha256": (r.inputs.get("dataset") or {}).get("sha256"),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "summary": f"{r.get_kind_display()} report #{r.pk}" + (f": {r.verdict}" if r.verdict else "")
                   + (f" ({r.finished_at.date()})" if r.finished_at else ""),
    } for r in latest.values()]


def sla_coverage(deployment_ids) -> dict[int, set[str]]:
    """Metrics of the active SLA rules of each deployment (one query)."""
    from monitoring.telemetry.models import SlaRule

    covered: dict[int, set[str]] = {}
    for deployment_id, metric in SlaRule.objects.filter(deployment_id__in=deployment_ids, is_active=True).values_list(
            "deployment_id", "metric"):
        covered.setdefault(deployment_id, set()).add(metric)
    return covered

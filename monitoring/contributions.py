"""What monitoring adds to the lower layers, through their extension points.

``register()`` runs once, from ``MonitoringConfig.ready()``. The registry and
governance never import monitoring; they walk the points filled here.
"""

from __future__ import annotations

from django.urls import reverse

from governance.extensions import Evidence, register_version_evidence
from governance.modelrisk.extensions import register_evidence_source
from modelgate.core.demo import register_demo_step
from monitoring import demo, modelrisk_facts, report_gates, version_page
from monitoring.selectors import reports as report_selectors
from registry import extensions as registry


def register() -> None:
    # Governance defines the gate interface; monitoring plugs its report-backed gates in.
    report_gates.register()
    registry.register_version_panel("monitoring.reports", version_page.PANEL, order=50)
    registry.register_version_routes("monitoring.reports", version_page.ROUTES)
    register_version_evidence("monitoring.reports", report_evidence)
    register_demo_step("reports", demo.seed, order=20)
    # Model risk: validations freeze the reports they relied on; documentation cites them.
    # The key names the facts in a validation's frozen evidence.
    register_evidence_source("reports", modelrisk_facts.report_evidence)


def report_evidence(user, version) -> list[Evidence]:
    """The version's reports the user may see, newest first, as evidence on a promotion request's page."""
    reports = report_selectors.report_list(user=user, version_id=version.pk).order_by("-created_at", "-pk")[:20]
    return [
        Evidence(
            title=f"{r.get_kind_display()} report #{r.pk}", url=reverse("monitoring:report-detail", args=[r.pk]),
            status=r.status, status_label=r.get_status_display(), verdict=r.verdict or "", created_at=r.created_at,
        )
        for r in reports
    ]

"""What SLA monitoring adds to the lower layers, through their extension points.

``register()`` runs once, from ``TelemetryConfig.ready()``.
"""

from __future__ import annotations

from governance.modelrisk.extensions import register_monitoring_coverage
from modelgate.core.demo import register_demo_step
from modelgate.core.portal import HomeWidget, register_home_widget
from monitoring.modelrisk_facts import sla_coverage
from monitoring.telemetry import demo, selectors


def register() -> None:
    register_home_widget("telemetry.sla_alerts", HomeWidget(
        template="telemetry/partials/home_sla_alerts.html", context=sla_alerts,
    ), order=20)
    register_demo_step("telemetry", demo.seed, order=40)
    # Model risk: which SLA metrics a deployment is monitored on (a tier's required Prod rules).
    register_monitoring_coverage("telemetry.sla", sla_coverage)


def sla_alerts(user) -> dict:
    """Open SLA alerts on deployments of the models I may see (my teams' models)."""
    alerts = selectors.alerts_for(user).exclude(state="resolved").order_by("-opened_at", "-pk")[:10]
    return {"sla_alerts": list(alerts)}

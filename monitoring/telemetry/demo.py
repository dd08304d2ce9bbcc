"""Demo world, telemetry part: a few hours of production traffic for credit-scorer's
Prod deployment, ending in a latency regression that opens the p95 SLA alert.

Runs the ``generate_telemetry`` command (the same ingestion services as the API,
then beat's per-minute rule evaluation replayed). Idempotent: a deployment that
already has telemetry is left alone.
"""

from __future__ import annotations

import io

from django.core.management import call_command

from governance.models import Deployment
from monitoring.telemetry.models import Alert, PredictionEvent
from registry.demo import demo_rows


def seed(stdout, context):
    deployment = (
        Deployment.objects.filter(registered_model__name="credit-scorer", environment__slug="prod", status="active")
        .order_by("-pk").first()
    )
    if deployment is None:
        stdout.write("\nTelemetry: credit-scorer is not deployed in Prod; no traffic generated.\n")
        return context
    if not PredictionEvent.objects.filter(deployment=deployment).exists():
        out = io.StringIO()
        call_command("generate_telemetry", deployment=[deployment.pk], hours=demo_rows(3, 1) + 0.0,
                     per_minute=demo_rows(60, 20), regression_minutes=12, stdout=out)
        stdout.write("\nTelemetry: " + out.getvalue().strip().splitlines()[0] + "\n")
    open_alerts = Alert.objects.filter(deployment=deployment).exclude(state="resolved").select_related("rule")
    alert = open_alerts.filter(rule__metric="latency_p95").first() or open_alerts.first()
    if alert is not None:
        context.setdefault("tour", []).append(
            (f"Open alert: {alert.rule.name} on the Prod deployment (latency regression)", "/monitoring/sla/alerts/")
        )
    return context

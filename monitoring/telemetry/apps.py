from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    """SLA monitoring: telemetry ingestion, rollups, SLA/alert rules, dashboards.

    A Django app of its own inside ``monitoring/`` so its migrations and models
    evolve independently of the report models.
    """

    name = "monitoring.telemetry"
    label = "telemetry"
    verbose_name = "Monitoring: SLAs and telemetry"

    def ready(self):
        # Role grants: modelgate.core.roles imports <app>.roles for top-level apps only,
        # so this nested app registers its own before the post-migrate sync runs.
        # Model risk: which SLA metrics a deployment is monitored on (a tier's required Prod rules).
        from governance.modelrisk.extensions import register_monitoring_coverage
        from monitoring.modelrisk_facts import sla_coverage
        from monitoring.telemetry import roles  # noqa: F401

        register_monitoring_coverage(sla_coverage)

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
        from monitoring.telemetry import roles  # noqa: F401

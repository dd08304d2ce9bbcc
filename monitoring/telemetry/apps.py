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
        # Imported for their registrations: role grants and Celery tasks.
        from monitoring.telemetry import contributions, roles, tasks  # noqa: F401

        # The home page's SLA alerts and the demo step.
        contributions.register()

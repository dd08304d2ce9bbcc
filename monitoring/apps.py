from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # Imported for their registrations: role grants, job handlers and Celery tasks
        # (the ML stack itself loads lazily, in the worker's handlers only).
        from monitoring import contributions, roles, tasks  # noqa: F401

        # Report gates, the version page's reports, evidence on requests, the demo step.
        contributions.register()

from django.apps import AppConfig


class MlflowCompatConfig(AppConfig):
    """An app of its own (no models) for the MLflow-compatible REST API, which sits on
    top of the registry and governance (it reads and writes both)."""

    name = "governance.mlflow"
    label = "governance_mlflow"
    verbose_name = "Governance: MLflow-compatible API"

    def ready(self):
        from governance.mlflow import tasks  # noqa: F401 (registers its job handlers)

from django.apps import AppConfig


class MlflowCompatConfig(AppConfig):
    """An app of its own (no models) for the MLflow-compatible REST API; its label
    prefixes its job kinds (``registry_mlflow.verify_source``)."""

    name = "registry.mlflow"
    label = "registry_mlflow"
    verbose_name = "Registry: MLflow-compatible API"

    def ready(self):
        from registry.mlflow import tasks  # noqa: F401 (registers its job handlers)

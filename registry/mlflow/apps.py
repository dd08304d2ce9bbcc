from django.apps import AppConfig


class MlflowCompatConfig(AppConfig):
    """An app of its own (no models) so the job runner finds ``registry.mlflow.tasks``
    (it imports ``<app>.tasks`` of every installed app) without touching the registry app."""

    name = "registry.mlflow"
    label = "registry_mlflow"
    verbose_name = "Registry: MLflow-compatible API"

"""Choices of the monitoring app (reports section)."""

from django.db import models


class ReportKind(models.TextChoices):
    EXPLAINABILITY = "explainability", "Explainability"
    FAIRNESS = "fairness", "Fairness"
    DRIFT = "drift", "Drift"


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Binary classification"
    REGRESSION = "regression", "Regression"


class DataFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"

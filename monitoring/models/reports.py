"""Evaluation datasets, immutable report records and model cards.

A ``Report`` is written once by the worker: inputs (dataset hashes, model
version, parameters, library versions), results and figures never change after
it ends. The same inputs (same ``fingerprint``) reuse the stored report.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from monitoring.choices import DataFormat, ReportKind, ReportStatus, TaskType


def default_positive_label():
    return 1


_TEAM_SCOPE = ("version__registered_model", "registry.RegisteredModel")


class EvaluationDataset(models.Model):
    """A CSV/Parquet artifact of a version with declared column roles."""

    team_scope = _TEAM_SCOPE

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="evaluation_datasets")
    name = models.CharField(max_length=128)
    artifact = models.ForeignKey("registry.Artifact", on_delete=models.PROTECT, related_name="+")
    reference_artifact = models.ForeignKey(
        "registry.Artifact", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Reference (training) data for drift and representation checks.",
    )
    data_format = models.CharField(max_length=10, choices=DataFormat.choices, default=DataFormat.CSV)
    task = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.CLASSIFICATION)
    feature_columns = models.JSONField(default=list)
    label_column = models.CharField(max_length=200)
    prediction_column = models.CharField(max_length=200, blank=True, help_text="Empty: the model predicts.")
    sensitive_columns = models.JSONField(default=list, blank=True)
    positive_label = models.JSONField(default=default_positive_label, help_text="Label value counted as the favourable outcome.")
    positive_label_meaning = models.CharField(
        max_length=200, blank=True, help_text="What the favourable label means, in words (e.g. 'repays'); named on fairness charts and tables.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version_id", "name"]
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="monitoring_unique_dataset_name")]

    def __str__(self):
        return f"{self.version}: {self.name}"

    @property
    def column_roles(self) -> dict:
        return {
            "features": list(self.feature_columns),
            "label": self.label_column,
            "prediction": self.prediction_column or None,
            "sensitive": list(self.sensitive_columns),
            "positive_label": self.positive_label,
            "task": self.task,
            # Only when set, so the fingerprints of reports on datasets without it stay as they were.
            **({"positive_label_meaning": self.positive_label_meaning} if self.positive_label_meaning else {}),
        }


class Report(models.Model):
    """One computed report; immutable once it has ended."""

    team_scope = _TEAM_SCOPE

    kind = models.CharField(max_length=20, choices=ReportKind.choices, db_index=True)
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="reports")
    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.PROTECT, related_name="reports")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of every input; equal inputs reuse the report.")
    inputs = models.JSONField(default=dict, help_text="Model and dataset hashes, column roles.")
    parameters = models.JSONField(default=dict, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.QUEUED, db_index=True)
    error = models.TextField(blank=True)
    verdict = models.CharField(max_length=20, blank=True, help_text="pass / warn / fail / needs_review, when the kind has one")
    results = models.JSONField(null=True, blank=True)
    figures = models.JSONField(default=dict, blank=True, help_text="figure id → plotly figure JSON")
    timings = models.JSONField(default=dict, blank=True, help_text="step → seconds")
    seed = models.BigIntegerField(default=0)
    sample_sizes = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one live or successful report per set of inputs; failed ones may be retried.
            models.UniqueConstraint(
                fields=["kind", "fingerprint"],
                condition=~models.Q(status="failed"),
                name="monitoring_unique_live_report_inputs",
            ),
        ]
        indexes = [models.Index(fields=["version", "kind", "status"])]

    def __str__(self):
        return f"{self.get_kind_display()} report #{self.pk} of {self.version_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in (ReportStatus.SUCCEEDED, ReportStatus.FAILED)


class ModelCard(models.Model):
    """A model card in the field names of the Model Card Toolkit JSON schema.

    ``generated`` holds what is derived from the registry and the reports;
    ``authored`` holds what a person must write (intended use, limitations…).
    The exported card merges both.
    """

    team_scope = _TEAM_SCOPE

    version = models.OneToOneField("registry.ModelVersion", on_delete=models.CASCADE, related_name="model_card")
    generated = models.JSONField(default=dict, blank=True)
    authored = models.JSONField(default=dict, blank=True)
    source_reports = models.ManyToManyField(Report, blank=True, related_name="model_cards")
    generated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self):
        return f"Model card of {self.version_id}"

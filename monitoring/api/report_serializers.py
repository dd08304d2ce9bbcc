"""Serializers of the reports API: one output serializer per resource, input serializers for writes."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitoring.choices import DataFormat, ReportKind, TaskType
from monitoring.models import EvaluationDataset, ModelCard, Report
from monitoring.selectors.reports import effective_status


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    pass


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class ColumnListField(serializers.Field):
    """A list of column names, as JSON or (in multipart forms) a JSON-encoded or comma-separated string."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            text = data.strip()
            if text.startswith("["):
                try:
                    data = json.loads(text)
                except ValueError:
                    raise serializers.ValidationError("not valid JSON") from None
            else:
                data = [part.strip() for part in text.split(",") if part.strip()]
        if not isinstance(data, list) or not all(isinstance(v, str) and v for v in data):
            raise serializers.ValidationError("a list of column names")
        return data

    def to_representation(self, value):
        return list(value)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]})
class ScalarField(serializers.Field):
    def to_internal_value(self, data):
        if isinstance(data, str | int | float | bool):
            return data
        raise serializers.ValidationError("a string or number")

    def to_representation(self, value):
        return value


class DatasetAttachSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="Registered model name")
    version = serializers.IntegerField(min_value=1, help_text="Version number")
    name = serializers.CharField(max_length=128)
    file = serializers.FileField(required=False, help_text="CSV or Parquet (multipart upload)")
    artifact_id = serializers.IntegerField(required=False, help_text="Or an existing artifact of the version")
    reference_file = serializers.FileField(required=False, help_text="Reference (training) data for drift")
    reference_artifact_id = serializers.IntegerField(required=False)
    data_format = serializers.ChoiceField(choices=DataFormat.choices, default=DataFormat.CSV)
    task = serializers.ChoiceField(choices=TaskType.choices, default=TaskType.CLASSIFICATION)
    feature_columns = ColumnListField()
    label_column = serializers.CharField(max_length=200)
    prediction_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    sensitive_columns = ColumnListField(required=False, default=list)
    positive_label = ScalarField(required=False, default=1)
    positive_label_meaning = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="What the favourable label means, in words (e.g. 'repays'); named on fairness charts and tables",
    )
    sha256 = serializers.CharField(required=False, help_text="Expected SHA-256 of the file; a mismatch stores nothing")


class EvaluationDatasetSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")
    version_id = serializers.IntegerField()
    sha256 = serializers.CharField(source="artifact.blob_id")
    path = serializers.CharField(source="artifact.path")
    reference_sha256 = serializers.CharField(source="reference_artifact.blob_id", default=None, allow_null=True)
    feature_columns = ColumnListField()
    sensitive_columns = ColumnListField()
    positive_label = ScalarField()

    class Meta:
        model = EvaluationDataset
        fields = (
            "id", "model", "version", "version_id", "name", "path", "sha256", "reference_sha256", "data_format", "task",
            "feature_columns", "label_column", "prediction_column", "sensitive_columns", "positive_label", "positive_label_meaning", "created_at",
        )


class ReportRequestSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(help_text="Evaluation dataset id (it names the version)")
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    parameters = ObjectField(required=False, default=dict)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**32 - 1)


class ReportSerializer(serializers.ModelSerializer):
    """A report's record and, through its job, status and progress. Results come with the detail view."""

    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")
    dataset = serializers.CharField(source="dataset.name")
    status = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    job_id = serializers.UUIDField(allow_null=True)
    inputs = ObjectField()
    parameters = ObjectField()
    library_versions = ObjectField()
    timings = ObjectField()
    sample_sizes = ObjectField()
    figure_ids = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = (
            "id", "kind", "model", "version", "version_id", "dataset", "status", "progress", "error", "verdict", "job_id",
            "fingerprint", "inputs", "parameters", "seed", "library_versions", "timings", "sample_sizes", "figure_ids",
            "created_at", "started_at", "finished_at",
        )

    def get_status(self, obj) -> str:
        return effective_status(obj)[0]

    def get_error(self, obj) -> str:
        return effective_status(obj)[1]

    def get_progress(self, obj) -> int:
        if obj.status == "succeeded":
            return 100
        return obj.job.progress if obj.job is not None else 0

    def get_figure_ids(self, obj) -> list[str]:
        if "figures" in obj.get_deferred_fields():
            return []
        return sorted((obj.figures or {}).keys())


class ReportDetailSerializer(ReportSerializer):
    results = ObjectField(allow_null=True)

    class Meta(ReportSerializer.Meta):
        fields = (*ReportSerializer.Meta.fields, "results")


class WhatIfSerializer(serializers.Serializer):
    row = ObjectField(required=False, help_text="Feature → value; or give row_index")
    row_index = serializers.IntegerField(required=False, min_value=0, help_text="A row of the evaluation dataset")
    changes = ObjectField(help_text="Feature → new value")


class WhatIfResultSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    result = ObjectField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ModelCardSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")
    card = serializers.SerializerMethodField()
    authored = ObjectField()
    source_report_ids = serializers.SerializerMethodField()

    class Meta:
        model = ModelCard
        fields = ("model", "version", "version_id", "card", "authored", "source_report_ids", "generated_at", "updated_at")

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_card(self, obj) -> dict:
        from monitoring.reports.modelcard import merge

        return merge(obj.generated, obj.authored)

    def get_source_report_ids(self, obj) -> list[int]:
        return sorted(r.pk for r in obj.source_reports.all())


class ModelCardUpdateSerializer(serializers.Serializer):
    authored = ObjectField(help_text="Sections model_details / considerations with the fields a person writes")

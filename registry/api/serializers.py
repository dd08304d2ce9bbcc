"""One output serializer per resource; separate input serializers for writes.
Serializers parse and shape; the rules live in ``registry.services``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from modelgate.core.models import Team
from registry.choices import ArtifactKind, Framework, ParentRelation, SchemaFormat, VersionStatus
from registry.models import (
    MODEL_NAME_VALIDATOR,
    Artifact,
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    TrainingRun,
)

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
NUMBER_MAP = {"type": "object", "additionalProperties": {"type": "number"}}


@extend_schema_field(STRING_MAP)
class TagsField(serializers.JSONField):
    pass


@extend_schema_field(NUMBER_MAP)
class MetricsField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    pass


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    """The one error envelope of every 4xx."""

    error = ErrorBodySerializer()


class AliasSerializer(serializers.Serializer):
    alias = serializers.CharField()
    version = serializers.IntegerField(source="version.version")
    updated_at = serializers.DateTimeField()


class RegisteredModelSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    tags = TagsField()
    latest_version = serializers.IntegerField(source="last_version")
    aliases = AliasSerializer(many=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    updated_by = serializers.CharField(source="updated_by.username", default=None, allow_null=True)

    class Meta:
        model = RegisteredModel
        fields = (
            "name", "team", "description", "tags", "latest_version", "aliases",
            "created_by", "created_at", "updated_by", "updated_at",
        )
        read_only_fields = fields


class RegisteredModelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, validators=[MODEL_NAME_VALIDATOR])
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), help_text="Owning team slug (one of yours).")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = TagsField(required=False, default=dict)


class RegisteredModelUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = TagsField(required=False)


class RenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, validators=[MODEL_NAME_VALIDATOR])


class ShareSerializer(serializers.Serializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True)
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(is_active=True), required=False, allow_null=True)

    def validate(self, attrs):
        if bool(attrs.get("team")) == bool(attrs.get("user")):
            raise serializers.ValidationError({"team": ["Give exactly one of team or user."]})
        return attrs


class AliasSetSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class ArtifactSerializer(serializers.ModelSerializer):
    sha256 = serializers.CharField(source="blob_id")
    size = serializers.IntegerField(source="blob.size")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = ("path", "kind", "sha256", "size", "content_type", "created_at", "download_url")
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        version = obj.version
        return f"/api/v1/models/{version.registered_model.name}/versions/{version.version}/artifacts/{obj.path}"


class ParentRefSerializer(serializers.Serializer):
    model = serializers.CharField(source="parent.registered_model.name")
    version = serializers.IntegerField(source="parent.version")
    relation = serializers.ChoiceField(choices=ParentRelation.choices)


class DatasetVersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = serializers.CharField(source="dataset.name")
    version = serializers.CharField()
    uri = serializers.CharField()
    sha256 = serializers.CharField()


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    team = serializers.CharField(source="registered_model.team.slug")
    metrics = MetricsField()
    params = ObjectField()
    input_schema = ObjectField(allow_null=True)
    output_schema = ObjectField(allow_null=True)
    signature_sample = ObjectField(allow_null=True)
    environment = ObjectField()
    serving = ObjectField()
    tags = TagsField()
    training_run = serializers.CharField(source="training_run.external_id", default=None, allow_null=True)
    trained_on = DatasetVersionRefSerializer(many=True)
    parents = ParentRefSerializer(source="parent_links", many=True)
    aliases = serializers.SerializerMethodField()
    artifacts = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta:
        model = ModelVersion
        fields = (
            "id", "model", "team", "version", "status", "status_message", "framework", "metrics", "params",
            "schema_format", "input_schema", "output_schema", "signature_sample", "environment", "entry_point",
            "serving", "source_repository", "source_commit", "source_uri", "run_id", "logged_model_id", "training_run", "trained_on",
            "parents", "tags", "description", "aliases", "artifacts", "created_by", "created_at", "updated_at",
        )
        read_only_fields = fields

    def get_aliases(self, obj) -> list[str]:
        return [alias.alias for alias in obj.aliases.all()]

    @extend_schema_field(ArtifactSerializer(many=True))
    def get_artifacts(self, obj):
        # The prefetched artifacts point back at this version: reuse it instead of a query per row.
        out = []
        for artifact in obj.artifacts.all():
            artifact.version = obj
            out.append(ArtifactSerializer(artifact).data)
        return out


class ParentInputSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=128)
    version = serializers.IntegerField(min_value=1)
    relation = serializers.ChoiceField(choices=ParentRelation.choices, default=ParentRelation.DERIVED)


class ModelVersionRegisterSerializer(serializers.Serializer):
    """Everything a CI job knows at registration; all of it but description and tags is then frozen."""

    framework = serializers.ChoiceField(choices=Framework.choices, default=Framework.OTHER)
    metrics = MetricsField(required=False, default=dict)
    params = ObjectField(required=False, default=dict)
    schema_format = serializers.ChoiceField(choices=SchemaFormat.choices, default=SchemaFormat.JSON_SCHEMA)
    input_schema = ObjectField(required=False, allow_null=True, default=None)
    output_schema = ObjectField(required=False, allow_null=True, default=None)
    signature_sample = ObjectField(required=False, allow_null=True, default=None, help_text="A sample input row; validated against input_schema.")
    environment = ObjectField(required=False, default=dict, help_text='{"python": "3.11", "packages": ["scikit-learn==1.5.2"]}')
    entry_point = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    serving = ObjectField(required=False, default=dict, help_text='{"mode": "batch", "input": {"type": "s3", "location": "..."}, "output": {...}}')
    source_repository = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    source_commit = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    source_uri = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    run_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    # The CI job knows its run by the external id (e.g. the MLflow run id), unique within the
    # owning team: the view narrows the queryset to runs of the model's team the user can see.
    training_run = serializers.SlugRelatedField(
        slug_field="external_id", queryset=TrainingRun.objects.none(), required=False, allow_null=True, default=None,
        help_text="External id of a training run of the model's team (POST /training-runs/ first).",
    )
    # The view narrows the queryset to what the user sees (another team's id reads as missing).
    trained_on = serializers.PrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.none(), many=True, required=False, default=list,
        error_messages={"does_not_exist": "Unknown dataset version {pk_value}."},
    )
    parents = ParentInputSerializer(many=True, required=False, default=list)
    tags = TagsField(required=False, default=dict)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ModelVersionUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = TagsField(required=False)


class FinalizeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[VersionStatus.READY, VersionStatus.FAILED], default=VersionStatus.READY)
    message = serializers.CharField(required=False, allow_blank=True, default="")


class SampleRowSerializer(serializers.Serializer):
    row = serializers.JSONField(help_text="One input row to check against the version's input schema.")


class SampleRowResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.CharField())


class ArtifactUploadQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ArtifactKind.choices, default=ArtifactKind.OTHER)
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, help_text="Expected SHA-256 (or header X-Content-SHA256).")


class RunDatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    digest = serializers.CharField()
    source_type = serializers.CharField()
    source = serializers.CharField()
    context = serializers.CharField(required=False, help_text="e.g. training, as the tracking server tagged the input")


class TrainingRunSummarySerializer(serializers.Serializer):
    external_id = serializers.CharField(help_text="The run id (MLflow run id)")
    name = serializers.CharField()
    url = serializers.CharField(help_text="The run's page in the tracking server ('' if unknown)")
    params = ObjectField()
    metrics = MetricsField()
    datasets = RunDatasetSerializer(many=True, help_text="Dataset inputs as the tracking server reports them")


class LineageNodeSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    level = serializers.IntegerField(help_text="Negative upstream, 0 the version asked for, positive downstream.")
    status = serializers.CharField()
    framework = serializers.CharField()
    training_run = serializers.CharField(allow_null=True)
    run = TrainingRunSummarySerializer(allow_null=True, help_text="The training run record, with its link, parameters, metrics and dataset inputs")
    trained_on = DatasetVersionRefSerializer(many=True)


class LineageRefSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()


class LineageEdgeSerializer(serializers.Serializer):
    child = LineageRefSerializer()
    parent = LineageRefSerializer()
    relation = serializers.CharField()


class LineageSerializer(serializers.Serializer):
    depth = serializers.IntegerField()
    nodes = LineageNodeSerializer(many=True)
    edges = LineageEdgeSerializer(many=True)
    hidden = serializers.IntegerField(help_text="Versions in the graph you may not see (left out).")


class DatasetSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())

    class Meta:
        model = Dataset
        fields = ("id", "name", "team", "description", "created_at")
        read_only_fields = ("id", "created_at")
        validators: list = []  # uniqueness is the service's answer (409), not a 400


class DatasetVersionSerializer(serializers.ModelSerializer):
    dataset = serializers.PrimaryKeyRelatedField(
        queryset=Dataset.objects.none(), error_messages={"does_not_exist": "Unknown dataset {pk_value}."},
    )
    schema = ObjectField(required=False, allow_null=True)

    class Meta:
        model = DatasetVersion
        fields = ("id", "dataset", "version", "uri", "sha256", "row_count", "schema", "created_at")
        read_only_fields = ("id", "created_at")
        validators: list = []


class TrainingRunSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    params = ObjectField(required=False)
    metrics = MetricsField(required=False)
    environment = ObjectField(required=False)
    datasets = RunDatasetSerializer(many=True, read_only=True, help_text="Dataset inputs as the tracking server reported them")

    class Meta:
        model = TrainingRun
        fields = (
            "id", "team", "external_id", "name", "url", "code_repository", "commit", "params", "metrics", "environment",
            "datasets", "started_at", "ended_at", "created_at",
        )
        # name, url and datasets come from the tracking server (registry.tracking), not from clients.
        read_only_fields = ("id", "name", "url", "created_at")
        validators: list = []

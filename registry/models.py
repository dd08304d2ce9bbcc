"""The system of record: registered models, immutable versions, content-addressed
artifacts and lineage. Governance and monitoring refer to versions stored here."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from modelgate.core.models import Team
from registry.choices import ArtifactKind, Framework, ParentRelation, SchemaFormat, VersionStatus

MODEL_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9_.-]{1,128}$", "Use 1–128 letters, digits, '-', '_' or '.'.", code="invalid_name"
)
SHA256_VALIDATOR = RegexValidator(r"^[0-9a-f]{64}$", "A SHA-256 is 64 lowercase hex digits.")
COMMIT_VALIDATOR = RegexValidator(r"^[0-9a-f]{7,64}$", "A commit SHA is 7–64 lowercase hex digits.")
# MLflow logged-model ids are "m-" and 32 hex digits; any id is sent in a URL path, so only these characters.
LOGGED_MODEL_ID_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_.-]{1,100}$", "A logged-model id is 1–100 letters, digits, '-', '_' or '.'.")


class RegisteredModel(models.Model):
    # restrict(): visibility is decided by guardian object permissions on this row.
    team_scope = ("", "registry.RegisteredModel")

    name = models.CharField(max_length=128, unique=True, validators=[MODEL_NAME_VALIDATOR])
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # Version numbers are handed out from this counter under a row lock: gap-free and race-free.
    last_version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class RegisteredModelUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class RegisteredModelGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class ModelVersion(models.Model):
    """One immutable version. After registration the artifacts, schema, metrics,
    lineage and source never change; description and tags stay editable."""

    team_scope = ("registered_model", "registry.RegisteredModel")
    IMMUTABLE_FIELDS = (
        "framework", "metrics", "params", "schema_format", "input_schema", "output_schema",
        "environment", "entry_point", "serving", "source_repository", "source_commit", "source_uri",
        "run_id", "training_run", "signature_sample", "logged_model_id",
    )

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.PENDING_UPLOAD, db_index=True)
    status_message = models.TextField(blank=True)
    framework = models.CharField(max_length=20, choices=Framework.choices, default=Framework.OTHER)
    metrics = models.JSONField(default=dict, blank=True, help_text="name → number")
    params = models.JSONField(default=dict, blank=True, help_text="name → value")
    schema_format = models.CharField(max_length=20, choices=SchemaFormat.choices, default=SchemaFormat.JSON_SCHEMA)
    input_schema = models.JSONField(null=True, blank=True)
    output_schema = models.JSONField(null=True, blank=True)
    signature_sample = models.JSONField(null=True, blank=True, help_text="A sample input row validated against the input schema")
    environment = models.JSONField(default=dict, blank=True, help_text='{"python": "3.11", "packages": ["scikit-learn==1.5.2"]}')
    entry_point = models.CharField(max_length=255, blank=True, help_text="Scoring entry point, e.g. score.py:predict")
    serving = models.JSONField(default=dict, blank=True, help_text="Serving descriptor: mode (batch/rest/streaming), input and output transports")
    source_repository = models.URLField(max_length=500, blank=True)
    source_commit = models.CharField(max_length=64, blank=True, validators=[COMMIT_VALIDATOR])
    source_uri = models.CharField(max_length=1000, blank=True, help_text="Where the client says the model came from (MLflow 'source')")
    run_id = models.CharField(max_length=100, blank=True, help_text="External training run id (MLflow run id)")
    logged_model_id = models.CharField(
        max_length=100, blank=True, validators=[LOGGED_MODEL_ID_VALIDATOR],
        help_text="MLflow 3 logged-model id (m-…) the client registered; its run is resolved from the tracking server",
    )
    training_run = models.ForeignKey("TrainingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="model_versions")
    trained_on = models.ManyToManyField("DatasetVersion", blank=True, related_name="model_versions")
    tags = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 (NULL = no key; unique when set)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["registered_model_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "version"], name="registry_unique_version_number"),
            models.UniqueConstraint(
                fields=["registered_model", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="registry_unique_idempotency_key",
            ),
        ]

    def __str__(self):
        return f"{self.registered_model.name} v{self.version}"


class VersionParent(models.Model):
    """Lineage edge: ``child`` was derived from ``parent`` (retrain, fine-tune)."""

    child = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="parent_links")
    parent = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="child_links")
    relation = models.CharField(max_length=20, choices=ParentRelation.choices, default=ParentRelation.DERIVED)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["child", "parent"], name="registry_unique_parent_edge")]

    def __str__(self):
        return f"{self.child} {self.relation} {self.parent}"


class ModelAlias(models.Model):
    """A named pointer (``champion``, ``prod``) to one version of a model."""

    team_scope = ("registered_model", "registry.RegisteredModel")

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=128, validators=[MODEL_NAME_VALIDATOR])
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["registered_model", "alias"], name="registry_unique_alias")]

    def __str__(self):
        return f"{self.registered_model.name}@{self.alias}"


class ArtifactBlob(models.Model):
    """Content-addressed file: identical bytes are stored once, named by their SHA-256."""

    sha256 = models.CharField(max_length=64, primary_key=True, validators=[SHA256_VALIDATOR])
    size = models.BigIntegerField()
    storage_name = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.sha256[:12]}… ({self.size} bytes)"


class Artifact(models.Model):
    """A file of a version, by its sanitised relative path."""

    team_scope = ("version__registered_model", "registry.RegisteredModel")

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="artifacts")
    path = models.CharField(max_length=500, help_text="Sanitised relative path, e.g. model/model.skops")
    kind = models.CharField(max_length=20, choices=ArtifactKind.choices, default=ArtifactKind.OTHER)
    blob = models.ForeignKey(ArtifactBlob, on_delete=models.PROTECT, related_name="artifacts")
    content_type = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="registry_unique_artifact_path")]

    def __str__(self):
        return f"{self.version}: {self.path}"

    @property
    def sha256(self) -> str:
        return self.blob_id

    @property
    def size(self) -> int:
        return self.blob.size


class Dataset(models.Model):
    team_scope = ("", "registry.Dataset")

    name = models.CharField(max_length=128, validators=[MODEL_NAME_VALIDATOR])
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="datasets")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="registry_unique_dataset_name")]

    def __str__(self):
        return self.name


class DatasetUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)


class DatasetGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)


class DatasetVersion(models.Model):
    team_scope = ("dataset", "registry.Dataset")

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    uri = models.CharField(max_length=1000, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, validators=[SHA256_VALIDATOR])
    row_count = models.BigIntegerField(null=True, blank=True)
    schema = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset_id", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset", "version"], name="registry_unique_dataset_version")]

    def __str__(self):
        return f"{self.dataset.name}@{self.version}"


class TrainingRun(models.Model):
    team_scope = ("team", "core.Team")

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="training_runs")
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=250, blank=True, help_text="The run's name in the tracking server")
    url = models.URLField(max_length=1000, blank=True, help_text="The run's page in the tracking server")
    datasets = models.JSONField(
        default=list, blank=True, help_text="Dataset inputs as the tracking server reports them: name, digest, source_type, source, context"
    )
    code_repository = models.URLField(max_length=500, blank=True)
    commit = models.CharField(max_length=64, blank=True, validators=[COMMIT_VALIDATOR])
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    environment = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["team", "external_id"], name="registry_unique_run_id")]

    def __str__(self):
        return self.external_id

from django.db import models


class VersionStatus(models.TextChoices):
    PENDING_UPLOAD = "pending_upload", "Pending upload"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Framework(models.TextChoices):
    SKLEARN = "sklearn", "scikit-learn"
    LIGHTGBM = "lightgbm", "LightGBM"
    XGBOOST = "xgboost", "XGBoost"
    OTHER = "other", "Other"


class SchemaFormat(models.TextChoices):
    JSON_SCHEMA = "json_schema", "JSON Schema"
    AVRO = "avro", "Avro record schema"


class ArtifactKind(models.TextChoices):
    MODEL = "model", "Model file"
    CODE = "code", "Scoring code"
    TRANSFORMER = "transformer", "Feature transformer"
    SAMPLE = "sample", "Sample data"
    DATASET = "dataset", "Evaluation dataset"
    OTHER = "other", "Other"


class ServingMode(models.TextChoices):
    BATCH = "batch", "Batch"
    REST = "rest", "REST"
    STREAMING = "streaming", "Streaming"


class ParentRelation(models.TextChoices):
    RETRAIN = "retrain", "Retrained from"
    FINE_TUNE = "fine_tune", "Fine-tuned from"
    DERIVED = "derived", "Derived from"

"""Registry test data. Single objects go through the real services (so team
permissions and audit events exist as in production); ``bulk_models`` writes
hundreds of rows directly for the query-count tests, with the same permissions."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import Permission

from registry import services
from registry.models import ModelVersion, RegisteredModel, RegisteredModelGroupObjectPermission

IRIS_SCHEMA = {
    "type": "object",
    "required": ["sepal_length", "sepal_width"],
    "properties": {"sepal_length": {"type": "number"}, "sepal_width": {"type": "number"}},
    "additionalProperties": False,
}
CAR_RECORD = {
    "type": "record",
    "name": "CarRecord",
    "namespace": "example.avro",
    "fields": [
        {"name": "make", "type": "string"},
        {"name": "year", "type": "int"},
        {"name": "price", "type": ["null", "double"], "default": None},
    ],
}


def make_model(user, team, name="credit-scorer", **kwargs) -> RegisteredModel:
    return services.registered_model_create(user=user, name=name, team=team, **kwargs)


def make_version(user, model, **fields) -> ModelVersion:
    fields.setdefault("framework", "sklearn")
    fields.setdefault("metrics", {"auc": 0.81})
    fields.setdefault("input_schema", IRIS_SCHEMA)
    version, _ = services.modelversion_register(user=user, registered_model=model, **fields)
    return version


def upload(user, version, path="model/model.skops", data=b"model-bytes", kind="model"):
    return services.artifact_upload(user=user, version=version, path=path, chunks=[data], kind=kind)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bulk_models(team, count: int, prefix: str = "bulk") -> list[RegisteredModel]:
    """``count`` models owned by ``team`` with one version each, plus the team's object permissions."""
    models = RegisteredModel.objects.bulk_create(
        [RegisteredModel(name=f"{prefix}-{i:04d}", team=team, tags={"i": str(i)}, last_version=1) for i in range(count)]
    )
    perms = list(Permission.objects.filter(content_type__app_label="registry", codename__in=services.TEAM_MODEL_PERMS))
    RegisteredModelGroupObjectPermission.objects.bulk_create(
        [RegisteredModelGroupObjectPermission(content_object=m, group=team.group, permission=p) for m in models for p in perms]
    )
    ModelVersion.objects.bulk_create(
        [ModelVersion(registered_model=m, version=1, framework="sklearn", metrics={"auc": 0.5 + i / (2 * count)}) for i, m in enumerate(models)]
    )
    return models

"""Fixtures of the monitoring report tests: a registered model version of team
``credit`` with its model file and evaluation data stored like any artifact."""

from __future__ import annotations

from guardian.shortcuts import assign_perm

from registry.choices import ArtifactKind, Framework, VersionStatus
from registry.models import Artifact, ModelVersion, RegisteredModel
from registry.storage import store_stream
from tests.monitoring.reports_data import INPUT_SCHEMA

TEAM_PERMS = ("view_registeredmodel", "change_registeredmodel")


def make_version(*, team, name: str, framework: str = Framework.LIGHTGBM, input_schema=INPUT_SCHEMA, user=None) -> ModelVersion:
    # Rows written directly as the registry's services would leave them (team object perms on the model).
    model = RegisteredModel.objects.create(name=name, team=team, created_by=user)
    for perm in TEAM_PERMS:
        assign_perm(f"registry.{perm}", team.group, model)
    model.last_version = 1
    model.save(update_fields=["last_version"])
    return ModelVersion.objects.create(
        registered_model=model, version=1, status=VersionStatus.READY, framework=framework, input_schema=input_schema, created_by=user,
    )


def add_artifact(version: ModelVersion, path: str, data: bytes, kind: str = ArtifactKind.MODEL) -> Artifact:
    blob = store_stream(iter([data]))
    return Artifact.objects.create(version=version, path=path, kind=kind, blob=blob)


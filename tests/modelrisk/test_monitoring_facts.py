"""Monitoring's facts reach model risk through the extension points: required Prod
monitoring rules of a tier, and reports frozen into a validation's evidence."""

import pytest

from governance.modelrisk.selectors import inventory_rows
from governance.models import Deployment, DeploymentSplit
from monitoring.telemetry.models import SlaRule
from tests.modelrisk.conftest import envs, signed_validation

pytestmark = pytest.mark.django_db


def _serving_in_prod(version, user):
    """A Prod deployment row, as a completed promotion leaves it (the walk is tested in tests/governance)."""
    deployment = Deployment.objects.create(environment=envs()["prod"], registered_model=version.registered_model,
                                           deployed_by=user)
    DeploymentSplit.objects.create(deployment=deployment, version=version, weight=100)
    return deployment


def test_it_reports_tier_1_prod_models_missing_required_monitoring_rules(ds_owner, risk, tier1_version):
    deployment = _serving_in_prod(tier1_version, ds_owner)
    (row,) = inventory_rows(risk)
    assert row["in_prod"] and row["monitoring_missing"] == ["error_rate", "latency_p95"]
    assert row["prod_without_validation"]
    SlaRule.objects.create(deployment=deployment, name="errors", metric="error_rate", threshold=0.02, owner=ds_owner)
    (row,) = inventory_rows(risk)
    assert row["monitoring_missing"] == ["latency_p95"]
    assert [r["model"].name for r in inventory_rows(risk, status="monitoring_missing")] == ["credit-scorer"]


def test_it_freezes_the_reports_a_validation_relied_on(validator, ds_owner, tier1_model, settings, tmp_path):
    from django.core.files.storage import storages

    from monitoring.models import EvaluationDataset, Report
    from registry import services as registry

    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    storages._storages = {}
    try:
        version, _ = registry.modelversion_register(user=ds_owner, registered_model=tier1_model, framework="sklearn")
        artifact = registry.artifact_upload(user=ds_owner, version=version, path="model/model.skops", chunks=[b"m"],
                                            kind="model")
        version = registry.modelversion_finalize(user=ds_owner, version=version)
        dataset = EvaluationDataset.objects.create(version=version, name="holdout", artifact=artifact,
                                                   feature_columns=["x"], label_column="y")
        Report.objects.create(kind="fairness", version=version, dataset=dataset, fingerprint="f" * 64,
                              status="succeeded", verdict="pass")
        validation = signed_validation(validator, version)
    finally:
        storages._storages = {}
    (report,) = validation.evidence["reports"]
    assert report["kind"] == "fairness" and report["verdict"] == "pass" and report["fingerprint"] == "f" * 64

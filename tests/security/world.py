"""One shared fixture world for the security tests: team ``credit`` owns a model with a
finished version, an artifact, an alias, a promotion request, a deployment, a report,
a model card, an SLA rule with an open alert, a data test, a dataset, a training run,
a webhook with a delivery and a job. Created through the services wherever they exist,
so team permissions and audit events are the production ones."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from governance import services as gov
from governance.models import Environment, WebhookDelivery
from modelgate.core.models import ApiToken, AuditEvent, Job
from modelgate.core.services import token_create, token_revoke
from monitoring.models import EvaluationDataset, ModelCard, Report
from monitoring.telemetry import services as telemetry
from monitoring.telemetry.models import Alert
from registry import services as registry

MODEL = "credit-scoring"
ARTIFACT_PATH = "model/model.skops"
ALIAS = "candidate"  # a free alias: reserved ones (champion, prod…) need an approved promotion
INPUT_SCHEMA = {"type": "object", "properties": {"income": {"type": "number"}, "age": {"type": "integer"}}}


@dataclass
class World:
    objects: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.objects[key]


def build_world(*, ds_owner, mle_teammate, admin_user, team_credit) -> World:
    w = World()
    model = registry.registered_model_create(user=ds_owner, name=MODEL, team=team_credit, description="matrix model")
    version, _ = registry.modelversion_register(user=ds_owner, registered_model=model, framework="sklearn",
                                                metrics={"auc": 0.86}, input_schema=INPUT_SCHEMA)
    artifact = registry.artifact_upload(user=ds_owner, version=version, path=ARTIFACT_PATH, chunks=[b"model-bytes"], kind="model")
    version = registry.modelversion_finalize(user=ds_owner, version=version)
    registry.registered_model_tag_set(user=ds_owner, model=model, key="k", value="v")
    version = registry.modelversion_tag_set(user=ds_owner, version=version, key="k", value="v")
    registry.alias_set(user=ds_owner, registered_model=model, alias=ALIAS, version=version)
    dataset = registry.dataset_create(user=ds_owner, name="applications", team=team_credit)
    dataset_version = registry.datasetversion_create(user=ds_owner, dataset=dataset, version="v1", uri="s3://bucket/applications/v1")
    run = registry.trainingrun_create(user=ds_owner, team=team_credit, external_id="run-1")

    for kind in ("unit", "e2e"):
        gov.ci_test_result_post(user=ds_owner, version=version, kind=kind, passed=True, ci_run_id="run-1")
    ci = gov.ci_test_result_post(user=ds_owner, version=version, kind="acceptance", passed=True,
                                 metrics={"p95_ms": 40.0}, ci_run_id="run-1")
    dev, uat = Environment.objects.get(slug="dev"), Environment.objects.get(slug="uat")
    deployment = gov.deployment_create_direct(user=ds_owner, version=version, environment=dev)
    request = gov.promotion_request_create(user=ds_owner, version=version, environment=uat)
    v2, _ = registry.modelversion_register(user=ds_owner, registered_model=model, framework="sklearn",
                                           metrics={"auc": 0.8}, input_schema=INPUT_SCHEMA)
    lifecycle = gov.version_set_lifecycle(user=ds_owner, version=registry.modelversion_finalize(user=ds_owner, version=v2),
                                          state="retired", reason="superseded")
    gov.webhook_allow_address(user=admin_user, network="127.0.0.1")
    allowed = gov.webhook_allow_address(user=admin_user, network="10.99.0.0/16")
    hook = gov.webhook_create(user=admin_user, name="ci", url="http://127.0.0.1:9/hook", events=[])
    delivery = WebhookDelivery.objects.create(webhook=hook, event="test", payload={"ok": True})

    eval_dataset = EvaluationDataset.objects.create(
        version=version, name="holdout", artifact=artifact, feature_columns=["income", "age"], label_column="approved",
    )
    report = Report.objects.create(kind="drift", version=version, dataset=eval_dataset, fingerprint="f" * 64,
                                   status="succeeded", results={"features": []}, created_by=ds_owner)
    card = ModelCard.objects.create(version=version, generated={"model": MODEL}, authored={})
    rule = telemetry.sla_rule_create(user=ds_owner, deployment=deployment, name="slow", metric="latency_p95", threshold=50)
    alert = Alert.objects.create(rule=rule, deployment=deployment, severity=rule.severity, summary="p95 above 50 ms",
                                 opened_at=timezone.now())
    # Model risk (issue 25): the model assessed, validated by an independent validator, a finding, a document.
    from governance.modelrisk import services as modelrisk
    from governance.roles import MODEL_VALIDATOR
    from tests.factories import UserFactory
    from tests.governance.fixtures import assess

    assess(user=ds_owner, model=model)
    validator = UserFactory(username="matrix-validator", roles=[MODEL_VALIDATOR])
    validation = modelrisk.validation_start(user=validator, version=version, scope="Matrix validation")
    finding = modelrisk.finding_create(user=validator, validation=validation, title="t", severity="low", description="d",
                                       owner=ds_owner, due_date=timezone.localdate() + datetime.timedelta(days=30))
    document = modelrisk.document_create(user=ds_owner, version=version)
    data_test = telemetry.data_test_create(user=ds_owner, deployment=deployment, field="income", kind="range",
                                           min_value=0, max_value=1e7)
    job = Job.objects.create(kind="monitoring.what_if", created_by=ds_owner, params={},
                             object_type="registry.modelversion", object_id=str(version.pk))

    w.objects.update(
        model=model, version=version, artifact=artifact, dataset=dataset, datasetversion=dataset_version,
        trainingrun=run, citestresult=ci, deployment=deployment, promotionrequest=request, versionlifecycle=lifecycle,
        webhook=hook, webhookdelivery=delivery, webhookallowedaddress=allowed, evaluationdataset=eval_dataset,
        report=report, modelcard=card, slarule=rule, alert=alert, datatest=data_test, job=job, environment=dev,
        auditevent=AuditEvent.objects.order_by("id").first(), team=team_credit, user=ds_owner,
        validation=validation, finding=finding, modeldocument=document,
    )
    return w


def personal_tokens(users: dict) -> dict:
    """A live bearer token per persona, plus a revoked one (its owner is the data scientist)."""
    tokens = {}
    for name, user in users.items():
        token, raw = token_create(user=user, name="matrix")
        tokens[name] = (token, raw)
    revoked, raw = token_create(user=users["ds_owner"], name="revoked")
    token_revoke(token=revoked)
    tokens["revoked"] = (ApiToken.objects.get(pk=revoked.pk), raw)
    return tokens

"""Invariants × surfaces: each rule the services enforce, tried through every surface
that can reach it — REST ``/api/v1/``, MLflow ``/api/2.0/mlflow/``, portal POST, Django
admin — and answered the same way everywhere (in each surface's own wire format).

``TABLE`` holds one row per (invariant, surface) pair; ``NOT_REACHABLE`` names the pairs
where the surface offers no way to the rule, with the reason. A pair in neither fails
``test_it_covers_every_surface_of_every_invariant``, so an invariant cannot be added
without saying where it is checked.

Invariants:
- ``reserved_alias``: prod, production, champion (Prod) and staging, uat (UAT) only point
  at a version approved for or deployed in that environment, and never resolve to one
  that no longer is.
- ``source_uri``: a version's source is a remote store or a reference to something the
  registering user can see; never a local path, ``..`` in any encoding, a backslash or a
  control character.
- ``invisible_is_missing``: an id or name of another team's object answers exactly like
  one that does not exist (same status, same envelope, same message but for the id).
- ``team_visibility``: nobody writes to another team's objects; they answer as missing.
- ``separation_of_duties``: whoever opened a promotion request cannot decide on it.
- ``auditor_read_only``: an auditor reads everything and changes no business object.
- ``validator_independence``: a model validator who works in the owning team neither
  validates the model nor raises or closes its findings; one outside the team does.

``ROUTE_INVARIANTS`` names, for every route that writes (it accepts POST, PUT, PATCH or
DELETE, a portal form, an admin change view), the invariants that bind it; each must have
a row on that route's surface. ``test_it_has_a_row_for_every_route_that_writes`` walks the
URL resolver and the admin site and fails on a writing route without an entry, so a new
writing route cannot ship without saying which rules it answers to. (The authorization
matrix, tests/security/test_authorization_matrix.py, calls every one of those routes as
every persona: outsiders get 404 and auditors 403, and nothing changes.)
"""

from __future__ import annotations

import datetime
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from governance.models import Approval, Environment, PromotionRequest
from modelgate.core.models import AuditEvent
from monitoring.models import EvaluationDataset
from registry import services as registry
from registry.models import ModelAlias, ModelVersion, RegisteredModel
from tests.conftest import api_for
from tests.mlflow.helpers import MlflowApi
from tests.security.test_authorization_matrix import POLICY
from tests.security.urlconf import routes

pytestmark = pytest.mark.django_db

SURFACES = ("rest", "mlflow", "portal", "admin")
MODEL, OTHER_MODEL = "credit-scorer", "fraud-model"
RESERVED = {"prod": "prod", "production": "prod", "champion": "prod", "staging": "uat", "uat": "uat", "Champion": "prod"}
MISSING_ID = 987654321
UNKNOWN_SHA = "0" * 64


@pytest.fixture
def world(ds_owner, outsider, team_credit, team_fraud, settings, tmp_path):
    """Team credit's model with a ready version; team fraud's model, blob, dataset version,
    training run and evaluation dataset (all invisible to credit's data scientist)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "artifacts")}},
    }
    from django.core.files.storage import storages

    storages._storages = {}
    if not Environment.objects.exists():  # a transactional test before this one flushed the seeded rows
        importlib.import_module("governance.migrations.0002_seed_environments").seed(apps, None)
    w = {}
    w["model"] = registry.registered_model_create(user=ds_owner, name=MODEL, team=team_credit)
    w["version"] = _ready_version(ds_owner, w["model"], b"credit-model-bytes")
    w["other_model"] = registry.registered_model_create(user=outsider, name=OTHER_MODEL, team=team_fraud)
    w["other_version"] = _ready_version(outsider, w["other_model"], b"fraud-model-bytes")
    w["other_blob"] = w["other_version"].artifacts.get().blob_id
    other_dataset = registry.dataset_create(user=outsider, name="fraud-data", team=team_fraud)
    w["other_dataset"] = other_dataset
    w["other_datasetversion"] = registry.datasetversion_create(user=outsider, dataset=other_dataset, version="v1", uri="s3://fraud/v1")
    w["other_run"] = registry.trainingrun_create(user=outsider, team=team_fraud, external_id="fraud-run-1")
    artifact = w["other_version"].artifacts.get()
    w["other_evaluation"] = EvaluationDataset.objects.create(
        version=w["other_version"], name="holdout", artifact=artifact, feature_columns=["x"], label_column="y",
    )
    yield w
    storages._storages = {}


def _ready_version(user, model, data: bytes) -> ModelVersion:
    version, _ = registry.modelversion_register(user=user, registered_model=model, framework="sklearn", metrics={"auc": 0.9})
    registry.artifact_upload(user=user, version=version, path="model/model.skops", chunks=[data], kind="model")
    return registry.modelversion_finalize(user=user, version=version)


def _approve(version, slug: str, *, requested_by, decided_at=None) -> PromotionRequest:
    """An approved promotion request, as the governance walk leaves it (the walk itself is tested in tests/governance)."""
    return PromotionRequest.objects.create(
        version=version, environment=Environment.objects.get(slug=slug), requested_by=requested_by,
        state="approved", decided_at=decided_at or timezone.now(),
    )


def _same_answer(first, second, first_id, second_id) -> None:
    """Two answers are the same but for the identifier the caller sent."""
    assert first.status_code == second.status_code, (first.content, second.content)
    body = first.content.decode().replace(str(first_id), "<id>")
    assert body == second.content.decode().replace(str(second_id), "<id>")


# --- reserved aliases ------------------------------------------------------------------


def alias_rest(w, ds_owner, **_):
    dana = api_for(ds_owner)
    for alias in RESERVED:
        response = dana.put(f"/api/v1/models/{MODEL}/aliases/{alias}/", {"version": 1}, format="json")
        assert response.status_code == 409, (alias, response.content)
        error = response.json()["error"]
        assert error["code"] == "reserved_alias" and "approved" in error["message"] and "version" in error["fields"]
    assert not ModelAlias.objects.exists()
    _approve(w["version"], "prod", requested_by=ds_owner)
    assert dana.put(f"/api/v1/models/{MODEL}/aliases/champion/", {"version": 1}, format="json").status_code == 200
    # Approved for Prod is not approved for UAT.
    assert dana.put(f"/api/v1/models/{MODEL}/aliases/staging/", {"version": 1}, format="json").status_code == 409
    assert list(ModelAlias.objects.values_list("alias", flat=True)) == ["champion"]


def alias_mlflow(w, ds_owner, **_):
    dana = MlflowApi(ds_owner)
    for alias in RESERVED:
        status, body = dana.post("registered-models/alias", {"name": MODEL, "alias": alias, "version": "1"})
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), alias
        assert "approved" in body["message"]
    assert not ModelAlias.objects.exists()
    _approve(w["version"], "uat", requested_by=ds_owner)
    assert dana.post("registered-models/alias", {"name": MODEL, "alias": "staging", "version": "1"}) == (200, {})
    status, _ = dana.post("registered-models/alias", {"name": MODEL, "alias": "prod", "version": "1"})
    assert status == 400


def alias_resolution_mlflow(w, ds_owner, **_):
    """``models:/name@champion`` never resolves to a version whose approval has gone stale
    (Prod approvals last 30 days), even before the periodic expiry job has run."""
    dana = MlflowApi(ds_owner)
    request = _approve(w["version"], "prod", requested_by=ds_owner)
    assert dana.post("registered-models/alias", {"name": MODEL, "alias": "champion", "version": "1"}) == (200, {})
    status, body = dana.get("registered-models/alias", {"name": MODEL, "alias": "champion"})
    assert status == 200 and body["model_version"]["version"] == "1"
    PromotionRequest.objects.filter(pk=request.pk).update(decided_at=timezone.now() - datetime.timedelta(days=31))
    status, body = dana.get("registered-models/alias", {"name": MODEL, "alias": "champion"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert body == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Registered model alias champion not found."}


def alias_admin(w, ds_owner, admin_user, **_):
    """The admin shows aliases and writes none: no add, no change, no delete."""
    registry.alias_set(user=ds_owner, registered_model=w["model"], alias="candidate", version=w["version"])
    second, _ = registry.modelversion_register(user=ds_owner, registered_model=w["model"])
    alias = ModelAlias.objects.get()
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    assert client.get(f"/admin/registry/modelalias/{alias.pk}/change/").status_code == 200  # view only
    response = client.post(f"/admin/registry/modelalias/{alias.pk}/change/", {"alias": "champion", "version": second.pk})
    assert response.status_code == 403
    assert client.post("/admin/registry/modelalias/add/", {"registered_model": w["model"].pk, "alias": "prod",
                                                          "version": w["version"].pk}).status_code == 403
    assert client.post(f"/admin/registry/modelalias/{alias.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(ModelAlias.objects.values_list("alias", "version_id")) == [("candidate", w["version"].pk)]


# --- source URIs -------------------------------------------------------------------------

BAD_SOURCES = [
    "file:///etc/passwd",
    "s3://b/../../../etc/shadow",
    "s3://b/%2e%2e/%2e%2e/etc/shadow",
    "s3://b/%252e%252e/etc/shadow",
    "s3://b/a\\..\\b",
    "s3://b/model%00.pkl",
    "s3://b/model\n.pkl",
    "/srv/models/model.pkl",
]


def _other_team_sources(w) -> list[str]:
    return [f"modelgate:models/{OTHER_MODEL}/1", f"modelgate:blobs/{w['other_blob']}", f"models:/{OTHER_MODEL}/1"]


def source_rest(w, ds_owner, **_):
    dana = api_for(ds_owner)
    for source in [*BAD_SOURCES, *_other_team_sources(w)]:
        response = dana.post(f"/api/v1/models/{MODEL}/versions/", {"source_uri": source}, format="json")
        assert response.status_code == 400, (source, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid" and list(error["fields"]) == ["source_uri"], source
    assert ModelVersion.objects.filter(registered_model=w["model"]).count() == 1
    own = f"modelgate:blobs/{w['version'].artifacts.get().blob_id}"
    for source in ("s3://bucket/credit/2", own, f"modelgate:models/{MODEL}/1"):
        response = dana.post(f"/api/v1/models/{MODEL}/versions/", {"source_uri": source}, format="json")
        assert response.status_code == 201, (source, response.content)


def source_mlflow(w, ds_owner, **_):
    dana = MlflowApi(ds_owner)
    for source in [*BAD_SOURCES, *_other_team_sources(w)]:
        status, body = dana.post("model-versions/create", {"name": MODEL, "source": source})
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), source
    assert ModelVersion.objects.filter(registered_model=w["model"]).count() == 1
    assert dana.post("model-versions/create", {"name": MODEL, "source": f"modelgate:models/{MODEL}/1"})[0] == 200


# --- invisible is missing ------------------------------------------------------------------


def missing_rest(w, ds_owner, team_credit, **_):
    dana = api_for(ds_owner)
    versions = f"/api/v1/models/{MODEL}/versions/"

    def register(**body):
        return dana.post(versions, body, format="json")

    hidden, missing = w["other_datasetversion"].pk, MISSING_ID
    _same_answer(register(trained_on=[hidden]), register(trained_on=[missing]), hidden, missing)
    assert register(trained_on=[hidden]).status_code == 400
    _same_answer(
        register(parents=[{"model": OTHER_MODEL, "version": 1}]), register(parents=[{"model": "no-such-model", "version": 1}]),
        OTHER_MODEL, "no-such-model",
    )
    _same_answer(register(training_run="fraud-run-1"), register(training_run="no-such-run"), "fraud-run-1", "no-such-run")
    hidden_blob = f"modelgate:blobs/{w['other_blob']}"
    _same_answer(register(source_uri=hidden_blob), register(source_uri=f"modelgate:blobs/{UNKNOWN_SHA}"), w["other_blob"], UNKNOWN_SHA)
    _same_answer(
        register(source_uri=f"modelgate:models/{OTHER_MODEL}/1"), register(source_uri="modelgate:models/no-such-model/1"),
        OTHER_MODEL, "no-such-model",
    )
    assert ModelVersion.objects.filter(registered_model=w["model"]).count() == 1

    def dataset_version(dataset_id):
        return dana.post("/api/v1/dataset-versions/", {"dataset": dataset_id, "version": "v9"}, format="json")

    hidden = w["other_dataset"].pk
    _same_answer(dataset_version(hidden), dataset_version(missing), hidden, missing)
    assert dataset_version(hidden).status_code == 400
    assert w["other_dataset"].versions.count() == 1


def missing_mlflow(w, ds_owner, **_):
    dana = MlflowApi(ds_owner)

    def create(source):
        return dana.client.post(
            "/api/2.0/mlflow/model-versions/create", json.dumps({"name": MODEL, "source": source}),
            content_type="application/json", **dana.headers,
        )

    _same_answer(create(f"modelgate:blobs/{w['other_blob']}"), create(f"modelgate:blobs/{UNKNOWN_SHA}"), w["other_blob"], UNKNOWN_SHA)
    _same_answer(create(f"modelgate:models/{OTHER_MODEL}/1"), create("modelgate:models/no-such-model/1"), OTHER_MODEL, "no-such-model")
    _same_answer(create(f"models:/{OTHER_MODEL}/1"), create("models:/no-such-model/1"), OTHER_MODEL, "no-such-model")
    assert create(f"modelgate:blobs/{UNKNOWN_SHA}").status_code == 400
    assert ModelVersion.objects.filter(registered_model=w["model"]).count() == 1


def missing_portal(w, ds_owner, **_):
    """A report request naming another team's evaluation dataset reads like one naming none."""
    client = Client()
    client.force_login(ds_owner)
    url = f"/registry/models/{MODEL}/versions/1/reports/"
    hidden, missing = w["other_evaluation"].pk, MISSING_ID
    first = client.post(url, {"dataset": hidden, "kind": "drift"}, follow=True)
    second = client.post(url, {"dataset": missing, "kind": "drift"}, follow=True)
    assert first.redirect_chain == second.redirect_chain
    assert [str(m) for m in first.context["messages"]] == [str(m) for m in second.context["messages"]]
    assert not AuditEvent.objects.filter(action__startswith="monitoring.report").exists()


def missing_admin(w, ds_owner, **_):
    """The admin's change page of another team's dataset version reads like a missing one."""
    ds_owner.is_staff = True
    ds_owner.save()
    client = Client()
    client.force_login(ds_owner)
    hidden, missing = w["other_datasetversion"].pk, MISSING_ID
    first = client.get(f"/admin/registry/datasetversion/{hidden}/change/", follow=True)
    second = client.get(f"/admin/registry/datasetversion/{missing}/change/", follow=True)
    assert first.redirect_chain == second.redirect_chain and first.redirect_chain
    assert [str(m).replace(str(hidden), "<id>") for m in first.context["messages"]] == [
        str(m).replace(str(missing), "<id>") for m in second.context["messages"]
    ]


# --- team visibility ---------------------------------------------------------------------------


def _portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _unchanged(model: RegisteredModel) -> None:
    fresh = RegisteredModel.objects.get(pk=model.pk)
    assert (fresh.description, fresh.tags, fresh.name) == (model.description, model.tags, model.name)
    assert fresh.versions.count() == 1


def team_rest(w, ds_owner, **_):
    dana = api_for(ds_owner)
    for call in (
        lambda name: dana.patch(f"/api/v1/models/{name}/", {"description": "mine now"}, format="json"),
        lambda name: dana.post(f"/api/v1/models/{name}/versions/", {"source_uri": "s3://b/m"}, format="json"),
        lambda name: dana.put(f"/api/v1/models/{name}/aliases/candidate/", {"version": 1}, format="json"),
    ):
        hidden, missing = call(OTHER_MODEL), call("no-such-model")
        assert hidden.status_code == 404
        _same_answer(hidden, missing, OTHER_MODEL, "no-such-model")
    _unchanged(w["other_model"])


def team_mlflow(w, ds_owner, **_):
    dana = MlflowApi(ds_owner)
    for method, endpoint, body in (
        ("POST", "registered-models/set-tag", {"key": "k", "value": "v"}),
        ("PATCH", "registered-models/update", {"description": "mine now"}),
        ("POST", "model-versions/create", {"source": "s3://b/m"}),
    ):
        hidden = dana.call(method, endpoint, {"name": OTHER_MODEL, **body})
        missing = dana.call(method, endpoint, {"name": "no-such-model", **body})
        assert hidden[0] == 404 and hidden[1]["error_code"] == "RESOURCE_DOES_NOT_EXIST", (endpoint, hidden)
        assert hidden[1]["message"].replace(OTHER_MODEL, "<id>") == missing[1]["message"].replace("no-such-model", "<id>")
    _unchanged(w["other_model"])


def team_portal(w, ds_owner, **_):
    client = _portal(ds_owner)
    other = w["other_version"]
    assert client.post(f"/governance/versions/{other.pk}/promote/", {"environment": "uat"}).status_code == 404
    assert client.post(f"/governance/versions/{other.pk}/deploy/", {"environment": "dev"}).status_code == 404
    assert client.post(f"/registry/models/{OTHER_MODEL}/versions/1/reports/", {"kind": "drift"}).status_code == 404
    assert not PromotionRequest.objects.filter(version=other).exists()
    assert not AuditEvent.objects.filter(registered_model_id=w["other_model"].pk, action__startswith="deployment").exists()


def team_admin(w, ds_owner, **_):
    ds_owner.is_staff = True
    ds_owner.save()
    client = _portal(ds_owner)
    url = f"/admin/registry/registeredmodel/{w['other_model'].pk}/change/"
    hidden = client.post(url, {"description": "mine now", "tags": "{}"}, follow=True)
    missing = client.post(f"/admin/registry/registeredmodel/{MISSING_ID}/change/", {"description": "x", "tags": "{}"}, follow=True)
    assert hidden.redirect_chain == missing.redirect_chain and hidden.redirect_chain
    _unchanged(w["other_model"])


# --- separation of duties -------------------------------------------------------------------


def _pending_uat_request(w, requested_by) -> PromotionRequest:
    return PromotionRequest.objects.create(
        version=w["version"], environment=Environment.objects.get(slug="uat"), requested_by=requested_by,
        state="pending", submitted_at=timezone.now(),
    )


def sod_rest(w, mle_teammate, **_):
    """An ML engineer approves UAT requests, but not the one they opened."""
    req = _pending_uat_request(w, mle_teammate)
    mel = api_for(mle_teammate)
    for verb in ("approve", "reject"):
        response = mel.post(f"/api/v1/promotion-requests/{req.pk}/{verb}/", {"comment": "looks fine"}, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "separation_of_duties", response.content
    assert not Approval.objects.exists() and PromotionRequest.objects.get(pk=req.pk).state == "pending"


def sod_portal(w, mle_teammate, **_):
    req = _pending_uat_request(w, mle_teammate)
    client = _portal(mle_teammate)
    html = client.get(f"/governance/requests/{req.pk}/").content.decode()
    assert 'id="decision-form"' not in html and "separation of duties" in html
    response = client.post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "mine"})
    assert response.status_code == 403
    assert not Approval.objects.exists() and PromotionRequest.objects.get(pk=req.pk).state == "pending"


def sod_admin(w, mle_teammate, **_):
    """The admin records no decision: approvals cannot be added and requests are read-only."""
    req = _pending_uat_request(w, mle_teammate)
    mle_teammate.is_staff = True
    mle_teammate.save()
    client = _portal(mle_teammate)
    assert client.post("/admin/governance/approval/add/", {"request": req.pk, "user": mle_teammate.pk, "role": "ml_engineer",
                                                           "decision": "approved", "comment": "x"}).status_code == 403
    client.post(f"/admin/governance/promotionrequest/{req.pk}/change/", {"state": "approved"})
    assert not Approval.objects.exists() and PromotionRequest.objects.get(pk=req.pk).state == "pending"


# --- the auditor changes nothing -----------------------------------------------------------------


def _nothing_changed_since(count: int) -> None:
    assert AuditEvent.objects.count() == count


def auditor_rest(w, auditor, **_):
    audrey, before = api_for(auditor), AuditEvent.objects.count()
    assert audrey.get(f"/api/v1/models/{MODEL}/").status_code == 200  # reads every team
    for response in (
        audrey.patch(f"/api/v1/models/{MODEL}/", {"description": "audited"}, format="json"),
        audrey.post(f"/api/v1/models/{MODEL}/versions/", {"source_uri": "s3://b/m"}, format="json"),
        audrey.put(f"/api/v1/models/{MODEL}/aliases/candidate/", {"version": 1}, format="json"),
        audrey.post("/api/v1/promotion-requests/", {"version": w["version"].pk, "environment": "uat"}, format="json"),
    ):
        assert response.status_code == 403, response.content
    _unchanged(w["model"])
    _nothing_changed_since(before)


def auditor_mlflow(w, auditor, **_):
    audrey, before = MlflowApi(auditor), AuditEvent.objects.count()
    assert audrey.get("registered-models/get", {"name": MODEL})[0] == 200
    for method, endpoint, params in (
        ("POST", "registered-models/set-tag", {"name": MODEL, "key": "k", "value": "v"}),
        ("PATCH", "registered-models/update", {"name": MODEL, "description": "audited"}),
        ("POST", "model-versions/create", {"name": MODEL, "source": "s3://b/m"}),
        ("POST", "model-versions/transition-stage", {"name": MODEL, "version": "1", "stage": "Staging"}),
    ):
        status, body = audrey.call(method, endpoint, params)
        assert (status, body["error_code"]) == (403, "PERMISSION_DENIED"), (endpoint, status, body)
    _unchanged(w["model"])
    assert not PromotionRequest.objects.exists()
    _nothing_changed_since(before)


def auditor_portal(w, auditor, ds_owner, **_):
    client, before = _portal(auditor), AuditEvent.objects.count()
    req = _pending_uat_request(w, ds_owner)
    html = client.get(f"/governance/requests/{req.pk}/").content.decode()
    assert 'id="decision-form"' not in html
    assert client.post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "ok"}).status_code == 403
    assert client.post(f"/governance/versions/{w['version'].pk}/promote/", {"environment": "uat"}).status_code == 403
    assert client.post(f"/governance/versions/{w['version'].pk}/deploy/", {"environment": "dev"}).status_code == 403
    assert not Approval.objects.exists() and PromotionRequest.objects.count() == 1
    _nothing_changed_since(before)


def auditor_admin(w, auditor, **_):
    auditor.is_staff = True
    auditor.save()
    client, before = _portal(auditor), AuditEvent.objects.count()
    url = f"/admin/registry/registeredmodel/{w['model'].pk}/change/"
    assert client.get(url).status_code == 200  # view only
    assert client.post(url, {"description": "audited", "tags": "{}"}).status_code == 403
    assert client.post(f"/admin/governance/environment/{Environment.objects.get(slug='dev').pk}/change/", {}).status_code == 403
    _unchanged(w["model"])
    _nothing_changed_since(before)


# --- validator independence --------------------------------------------------------------------


def _independence_world(w, ds_owner, team_credit):
    """The credit model assessed Tier 1, an independent validator with a signed validation and a
    finding whose remediation was submitted, and a validator who works in team credit."""
    from governance.modelrisk import services as modelrisk
    from governance.roles import MODEL_VALIDATOR
    from tests.factories import UserFactory
    from tests.governance.fixtures import TIER_1_ANSWERS

    modelrisk.inventory_assess(user=ds_owner, model=w["model"], answers=TIER_1_ANSWERS)
    outside = UserFactory(username="val", roles=[MODEL_VALIDATOR])
    inside = UserFactory(username="vic", roles=[MODEL_VALIDATOR], teams=[team_credit])
    validation = modelrisk.validation_start(user=outside, version=w["version"], scope="Initial")
    finding = modelrisk.finding_create(user=outside, validation=validation, title="Short back-test", severity="high",
                                       description="6 months", owner=ds_owner,
                                       due_date=timezone.localdate() + datetime.timedelta(days=30))
    modelrisk.finding_submit_remediation(user=ds_owner, finding=finding, remediation="24 months now")
    return outside, inside, validation, finding


def independence_rest(w, ds_owner, team_credit, **_):
    from governance.modelrisk.models import Finding, Validation

    outside, inside, validation, finding = _independence_world(w, ds_owner, team_credit)
    vic = api_for(inside)
    attempts = [
        vic.post("/api/v1/model-risk/validations/", {"version_id": w["version"].pk, "scope": "mine"}, format="json"),
        vic.post("/api/v1/model-risk/findings/", {"validation_id": validation.pk, "title": "t", "severity": "low",
                                                   "description": "d", "owner": "dana", "due_date": "2099-01-01"},
                 format="json"),
        vic.post(f"/api/v1/model-risk/findings/{finding.pk}/close/", {"comment": "fine"}, format="json"),
        vic.post(f"/api/v1/model-risk/findings/{finding.pk}/reopen/", {"comment": "no"}, format="json"),
    ]
    for response in attempts:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "validator_not_independent"
    assert Validation.objects.count() == 1 and Finding.objects.get().state == "remediation_submitted"
    closed = api_for(outside).post(f"/api/v1/model-risk/findings/{finding.pk}/close/", {"comment": "Verified"}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"


def independence_portal(w, ds_owner, team_credit, **_):
    from governance.modelrisk.models import Finding, Validation

    outside, inside, validation, finding = _independence_world(w, ds_owner, team_credit)
    vic = Client()
    vic.force_login(inside)
    page = vic.get(f"/governance/model-risk/models/{MODEL}/").content.decode()
    assert 'id="validate-form"' not in page and "close-form" not in page  # no buttons...
    attempts = [  # ...and the POSTs refused anyway
        vic.post(f"/governance/model-risk/models/{MODEL}/validate/", {"version_id": w["version"].pk, "scope": "mine"}),
        vic.post(f"/governance/model-risk/validations/{validation.pk}/finding/", {
            "title": "t", "severity": "low", "description": "d", "owner": "dana", "due_date": "2099-01-01"}),
        vic.post(f"/governance/model-risk/findings/{finding.pk}/close/", {"comment": "fine"}),
        vic.post(f"/governance/model-risk/findings/{finding.pk}/reopen/", {"comment": "no"}),
    ]
    for response in attempts:
        assert response.status_code == 403 and "Independence" in response.content.decode()
    assert Validation.objects.count() == 1 and Finding.objects.count() == 1
    assert Finding.objects.get().state == "remediation_submitted"
    val = Client()
    val.force_login(outside)
    assert val.post(f"/governance/model-risk/findings/{finding.pk}/close/", {"comment": "Verified"}).status_code == 302
    assert Finding.objects.get().state == "closed"


def independence_admin(w, ds_owner, team_credit, admin_user, **_):
    """The admin shows validations and findings and writes none, for an insider validator and an
    administrator alike: a finding is closed only through the service that checks independence."""
    from governance.modelrisk.models import Finding, Validation

    _, inside, validation, finding = _independence_world(w, ds_owner, team_credit)
    for user in (inside, admin_user):
        user.is_staff = True
        user.save()
        client = Client()
        client.force_login(user)
        assert client.get(f"/admin/governance/finding/{finding.pk}/change/").status_code == 200  # view only
        response = client.post(f"/admin/governance/finding/{finding.pk}/change/", {"state": "closed", "title": "x"})
        assert response.status_code == 403
        assert client.post("/admin/governance/validation/add/", {"version": w["version"].pk, "scope": "s"}).status_code == 403
        assert client.post(f"/admin/governance/finding/{finding.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Finding.objects.get().state == "remediation_submitted" and Validation.objects.count() == 1


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    invariant: str
    surface: str
    check: Callable

    @property
    def id(self) -> str:
        return f"{self.invariant}-{self.surface}-{self.check.__name__}"


TABLE = [
    Row("reserved_alias", "rest", alias_rest),
    Row("reserved_alias", "mlflow", alias_mlflow),
    Row("reserved_alias", "mlflow", alias_resolution_mlflow),
    Row("reserved_alias", "admin", alias_admin),
    Row("source_uri", "rest", source_rest),
    Row("source_uri", "mlflow", source_mlflow),
    Row("invisible_is_missing", "rest", missing_rest),
    Row("invisible_is_missing", "mlflow", missing_mlflow),
    Row("invisible_is_missing", "portal", missing_portal),
    Row("invisible_is_missing", "admin", missing_admin),
    Row("team_visibility", "rest", team_rest),
    Row("team_visibility", "mlflow", team_mlflow),
    Row("team_visibility", "portal", team_portal),
    Row("team_visibility", "admin", team_admin),
    Row("separation_of_duties", "rest", sod_rest),
    Row("separation_of_duties", "portal", sod_portal),
    Row("separation_of_duties", "admin", sod_admin),
    Row("auditor_read_only", "rest", auditor_rest),
    Row("auditor_read_only", "mlflow", auditor_mlflow),
    Row("auditor_read_only", "portal", auditor_portal),
    Row("auditor_read_only", "admin", auditor_admin),
    Row("validator_independence", "rest", independence_rest),
    Row("validator_independence", "portal", independence_portal),
    Row("validator_independence", "admin", independence_admin),
]

NOT_REACHABLE = {
    ("reserved_alias", "portal"): "the portal has no form that sets or moves an alias",
    ("source_uri", "portal"): "the portal registers no versions",
    ("source_uri", "admin"): "the admin adds no versions and shows source_uri read-only",
    ("separation_of_duties", "mlflow"): "MLflow has no approval call: transition-stage only opens a request",
    ("validator_independence", "mlflow"): "the MLflow API has no validation or finding verbs",
}


def test_it_covers_every_surface_of_every_invariant():
    invariants = {row.invariant for row in TABLE} | {invariant for invariant, _ in NOT_REACHABLE}
    covered = {(row.invariant, row.surface) for row in TABLE}
    missing = [(i, s) for i in sorted(invariants) for s in SURFACES if (i, s) not in covered and (i, s) not in NOT_REACHABLE]
    assert not missing, f"Add a row to TABLE (or a reason to NOT_REACHABLE) for {missing}"
    assert not covered & set(NOT_REACHABLE), "A pair is both tested and declared unreachable"


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.id)
def test_it_holds_the_invariant_on_the_surface(row, world, ds_owner, outsider, admin_user, team_credit, mle_teammate, auditor):
    row.check(world, ds_owner=ds_owner, outsider=outsider, admin_user=admin_user, team_credit=team_credit,
              mle_teammate=mle_teammate, auditor=auditor)


# --- every route that writes has a row ----------------------------------------------------------

T, A, SOD = "team_visibility", "auditor_read_only", "separation_of_duties"
VI = "validator_independence"
ALIAS, SOURCE, MISSING = "reserved_alias", "source_uri", "invisible_is_missing"

# Route (namespaced URL name, or "admin:<app>.<model>" for an admin change view) → the invariants that bind it.
ROUTE_INVARIANTS: dict[str, tuple[str, ...]] = {
    # REST: the registry
    "v1:registeredmodel-list": (A,),
    "v1:registeredmodel-detail": (T, A),
    "v1:registeredmodel-rename": (T, A),
    "v1:registeredmodel-share": (T, A),
    "v1:registeredmodel-unshare": (T, A),
    "v1:modelalias-detail": (ALIAS, T, A),
    "v1:modelversion-list": (SOURCE, MISSING, T, A),
    "v1:modelversion-detail": (T, A),
    "v1:modelversion-finalize": (T, A),
    "v1:modelversion-validate-row": (T,),
    "v1:artifact-detail": (T, A),
    "v1:dataset-list": (A,),
    "v1:datasetversion-list": (MISSING, A),
    "v1:trainingrun-list": (A,),
    # REST: governance
    "v1:environment-detail": (A,),
    "v1:promotionrequest-list": (T, A),
    "v1:promotionrequest-detail": (T, A),
    "v1:promotionrequest-submit": (T, A),
    "v1:promotionrequest-cancel": (T, A),
    "v1:promotionrequest-deploy": (T, A),
    "v1:promotionrequest-approve": (SOD, T, A),
    "v1:promotionrequest-reject": (SOD, T, A),
    "v1:promotionrequest-decide-override": (SOD, T, A),
    "v1:deployment-list": (T, A),
    "v1:deployment-retire": (T, A),
    "v1:deployment-review": (T, A),
    "v1:deployment-rollback": (T, A),
    "v1:versionlifecycle-list": (T, A),
    "v1:citestresult-list": (T, A),
    "v1:webhook-list": (A,),
    "v1:webhook-detail": (A,),
    "v1:webhookdelivery-redeliver": (A,),
    "v1:webhookallowedaddress-list": (A,),
    "v1:webhookallowedaddress-detail": (A,),
    # REST: model risk (governance.modelrisk)
    "v1:inventoryrecord-detail": (T, A),
    "v1:inventoryrecord-assess": (T, A),
    "v1:inventoryrecord-override-tier": (T, A),
    "v1:validation-list": (VI, T, A),
    "v1:validation-detail": (VI, T, A),
    "v1:validation-sign": (VI, T, A),
    "v1:finding-list": (VI, T, A),
    "v1:finding-remediate": (T, A),
    "v1:finding-accept-risk": (T, A),
    "v1:finding-close": (VI, T, A),
    "v1:finding-reopen": (VI, T, A),
    "v1:modeldocument-list": (T, A),
    "v1:modeldocument-detail": (T, A),
    # REST: monitoring
    "v1:evaluationdataset-list": (T, A),
    "v1:evaluationdataset-what-if": (T, A),
    "v1:report-list": (MISSING, T, A),
    "v1:modelcard-detail": (T, A),
    "v1:modelcard-generate": (T, A),
    "v1:telemetry-events": (T, A),
    "v1:telemetry-ground-truth": (T, A),
    "v1:slarule-list": (T, A),
    "v1:slarule-detail": (T, A),
    "v1:telemetry-alert-acknowledge": (T, A),
    "v1:telemetry-alert-resolve": (T, A),
    "v1:datatest-list": (T, A),
    "v1:datatest-detail": (T, A),
    # REST and portal: teams and people (administrators only; the authorization matrix
    # refuses everyone else, an auditor included)
    "v1:team-list": (A,),
    "v1:team-detail": (A,),
    "v1:team-add-member": (A,),
    "v1:team-remove-member": (A,),
    "v1:user-list": (A,),
    "v1:user-activate": (A,),
    "v1:user-deactivate": (A,),
    "v1:user-grant-role": (A,),
    "v1:user-revoke-role": (A,),
    "people-team-create": (A,),
    "people-team-rename": (A,),
    "people-member-add": (A,),
    "people-member-remove": (A,),
    "people-role-grant": (A,),
    "people-role-revoke": (A,),
    "people-user-active": (A,),
    # REST: the user's own API tokens (no team: the owner's own rows)
    "v1:token-list": (A,),
    "v1:token-revoke": (A,),
    # MLflow
    "mlflow:registered-model-create": (A,),
    "mlflow:registered-model-rename": (T, A),
    "mlflow:registered-model-update": (T, A),
    "mlflow:registered-model-delete": (T, A),
    "mlflow:registered-model-latest-versions": (T,),
    "mlflow:registered-model-set-tag": (T, A),
    "mlflow:registered-model-delete-tag": (T, A),
    "mlflow:registered-model-alias": (ALIAS, T, A),
    "mlflow:model-version-create": (SOURCE, MISSING, T, A),
    "mlflow:model-version-update": (T, A),
    "mlflow:model-version-delete": (T, A),
    "mlflow:model-version-set-tag": (T, A),
    "mlflow:model-version-delete-tag": (T, A),
    "mlflow:model-version-transition-stage": (T, A),
    # Portal forms
    "registry:report-request": (MISSING, T, A),
    "registry:whatif-request": (T, A),
    "registry:training-run-resolve": (T, A),
    "governance:request-decide": (SOD, T, A),
    "governance:model-risk-action": (VI, T, A),
    "governance:validation-action": (VI, T, A),
    "governance:finding-action": (VI, T, A),
    "governance:document-save": (T, A),
    "governance:request-override": (SOD, T, A),
    "governance:request-action": (T, A),
    "governance:version-promote": (T, A),
    "governance:version-deploy": (T, A),
    "governance:deployment-rollback": (T, A),
    "telemetry:alert-acknowledge": (T, A),
    "telemetry:alert-resolve": (T, A),
}
# Admin change views: every registered model's rows are restricted and read-only for auditors.
ADMIN_TEAM_ROWS = {
    "registry.registeredmodel", "registry.modelversion", "registry.modelalias", "registry.artifact", "registry.artifactblob",
    "registry.dataset", "registry.datasetversion", "registry.trainingrun", "registry.versionparent",
    "governance.promotionrequest", "governance.approval", "governance.deployment", "governance.deploymentsplit",
    "governance.versionlifecycle", "governance.citestresult",
    "monitoring.evaluationdataset", "monitoring.modelcard", "monitoring.report",
    "telemetry.alert", "telemetry.datatest", "telemetry.datatestresult", "telemetry.hourbucket", "telemetry.slarule",
}
ADMIN_ONLY = {
    "auth.group", "auth.user", "axes.accessattempt", "axes.accessfailurelog", "axes.accesslog", "core.apitoken",
    "core.auditevent", "core.job", "core.team", "governance.environment", "governance.webhook",
    "governance.webhookallowedaddress", "governance.webhookdelivery",
}
ROUTE_INVARIANTS.update({f"admin:{label}": (T, A) for label in ADMIN_TEAM_ROWS})
ROUTE_INVARIANTS.update({f"admin:{label}": (A,) for label in ADMIN_ONLY})
ROUTE_INVARIANTS["admin:governance.approval"] = (SOD, T, A)
ROUTE_INVARIANTS["admin:governance.promotionrequest"] = (SOD, T, A)
# Model risk: view-only in the admin for everyone (independence is checked in the services).
ROUTE_INVARIANTS.update({f"admin:governance.{name}": (VI, A) for name in ("validation", "finding")})
ROUTE_INVARIANTS.update({f"admin:governance.{name}": (A,) for name in
                         ("inventoryrecord", "modeldocument", "tierpolicy", "tierrequirement")})
# Writing routes no business rule binds, with the reason.
NO_INVARIANT = {
    "login": "signs a person in (throttled by django-axes, tests/core/test_login_security.py)",
    "logout": "ends the caller's own session",
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def writing_routes() -> dict[str, str]:
    """Every route that writes, by name, with its surface: URL routes accepting a writing
    method (function views: the methods the authorization matrix's policy names) and the
    Django admin's change view of every registered model."""
    from django.contrib import admin

    out = {}
    for route in routes():
        if route.kind == "admin":
            continue
        methods = set(route.methods or POLICY.get(route.name, {}))
        if methods & WRITES:
            out[route.name] = {"api": "rest", "public": "public"}.get(route.kind, route.kind)
    for model in admin.site._registry:
        out[f"admin:{model._meta.label_lower}"] = "admin"
    return out


def test_it_has_a_row_for_every_route_that_writes():
    table = {(row.invariant, row.surface) for row in TABLE}
    found = writing_routes()
    problems = [f"{name}: a route that writes, with no entry in ROUTE_INVARIANTS (or NO_INVARIANT)"
                for name in sorted(found) if name not in ROUTE_INVARIANTS and name not in NO_INVARIANT]
    problems += [f"{name}: entry for a route that does not write or does not exist"
                 for name in sorted({*ROUTE_INVARIANTS, *NO_INVARIANT} - set(found))]
    for name, invariants in sorted(ROUTE_INVARIANTS.items()):
        surface = found.get(name)
        problems += [f"{name}: {invariant} has no row on the {surface} surface" for invariant in invariants
                     if surface and (invariant, surface) not in table]
        if not invariants:
            problems.append(f"{name}: names no invariant; say why in NO_INVARIANT")
    assert not problems, "\n".join(problems)


def test_it_notices_a_new_writing_route_without_a_row(monkeypatch):
    from django.urls import clear_url_caches, get_resolver, path

    def new_view(request):  # pragma: no cover - never called
        raise AssertionError

    resolver = get_resolver()
    monkeypatch.setattr(resolver, "url_patterns", [*resolver.url_patterns, path("brand-new/", new_view, name="brand-new")])
    monkeypatch.setitem(POLICY, "brand-new", {"POST": frozenset()})
    try:
        assert "brand-new" in writing_routes()
        with pytest.raises(AssertionError, match="brand-new: a route that writes"):
            test_it_has_a_row_for_every_route_that_writes()
    finally:
        clear_url_caches()

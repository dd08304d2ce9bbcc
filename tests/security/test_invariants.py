"""Invariants × surfaces: each rule the services enforce, tried through every surface
that can reach it — REST ``/api/v1/``, MLflow ``/api/2.0/mlflow/``, portal POST, Django
admin — and answered the same way everywhere (in each surface's own wire format).

``TABLE`` holds one row per (invariant, surface) pair; ``NOT_REACHABLE`` names the pairs
where the surface offers no way to the rule, with the reason. A pair in neither fails
``test_it_covers_every_surface_of_every_invariant``, so an invariant cannot be added
without saying where it is checked.

Invariants so far (issue 17, holes 1, 2 and 4):
- ``reserved_alias``: prod, production, champion (Prod) and staging, uat (UAT) only point
  at a version approved for or deployed in that environment, and never resolve to one
  that no longer is.
- ``source_uri``: a version's source is a remote store or a reference to something the
  registering user can see; never a local path, ``..`` in any encoding, a backslash or a
  control character.
- ``invisible_is_missing``: an id or name of another team's object answers exactly like
  one that does not exist (same status, same envelope, same message but for the id).

Issue 25:
- ``validator_independence``: a model validator who works in the owning team neither
  validates the model nor raises or closes its findings; one outside the team does.
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

from governance.models import Environment, PromotionRequest
from modelgate.core.models import AuditEvent
from monitoring.models import EvaluationDataset
from registry import services as registry
from registry.models import ModelAlias, ModelVersion
from tests.conftest import api_for
from tests.mlflow.helpers import MlflowApi

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


# --- validator independence --------------------------------------------------------------------


def _independence_world(w, ds_owner, team_credit):
    """The credit model assessed Tier 1, an independent validator with a signed validation and a
    finding whose remediation was submitted, and a validator who works in team credit."""
    from governance.modelrisk import services as modelrisk
    from modelgate.core import roles
    from tests.factories import UserFactory
    from tests.governance.fixtures import TIER_1_ANSWERS

    modelrisk.inventory_assess(user=ds_owner, model=w["model"], answers=TIER_1_ANSWERS)
    outside = UserFactory(username="val", roles=[roles.MODEL_VALIDATOR])
    inside = UserFactory(username="vic", roles=[roles.MODEL_VALIDATOR], teams=[team_credit])
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
    Row("validator_independence", "rest", independence_rest),
    Row("validator_independence", "portal", independence_portal),
    Row("validator_independence", "admin", independence_admin),
]

NOT_REACHABLE = {
    ("reserved_alias", "portal"): "the portal has no form that sets or moves an alias",
    ("source_uri", "portal"): "the portal registers no versions",
    ("source_uri", "admin"): "the admin adds no versions and shows source_uri read-only",
    ("validator_independence", "mlflow"): "the MLflow API has no validation or finding verbs",
}


def test_it_covers_every_surface_of_every_invariant():
    invariants = {row.invariant for row in TABLE} | {invariant for invariant, _ in NOT_REACHABLE}
    covered = {(row.invariant, row.surface) for row in TABLE}
    missing = [(i, s) for i in sorted(invariants) for s in SURFACES if (i, s) not in covered and (i, s) not in NOT_REACHABLE]
    assert not missing, f"Add a row to TABLE (or a reason to NOT_REACHABLE) for {missing}"
    assert not covered & set(NOT_REACHABLE), "A pair is both tested and declared unreachable"


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.id)
def test_it_holds_the_invariant_on_the_surface(row, world, ds_owner, outsider, admin_user, team_credit):
    row.check(world, ds_owner=ds_owner, outsider=outsider, admin_user=admin_user, team_credit=team_credit)

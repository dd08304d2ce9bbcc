"""Every registry endpoint: anonymous 401, no role 403, other team 404, owner 2xx + audit."""

import pytest

from registry.api import urls as registry_urls
from registry.models import DatasetVersion
from tests.registry.factories import make_model, make_version, upload
from tests.registry.permissions import Endpoint, check_endpoint

M = "/api/v1/models/credit-scorer"
V1 = f"{M}/versions/1"


@pytest.fixture
def world(ds_owner, outsider, team_credit):
    from registry import services

    model = make_model(ds_owner, team_credit)
    v1 = make_version(ds_owner, model)
    upload(ds_owner, v1, "model/model.bin", b"abc")
    services.alias_set(user=ds_owner, registered_model=model, alias="candidate", version=v1)
    services.registered_model_share(user=ds_owner, model=model, grantee=outsider.__class__.objects.create(username="viewer"))
    dataset = services.dataset_create(user=ds_owner, name="loans", team=team_credit)
    dv = services.datasetversion_create(user=ds_owner, dataset=dataset, version="2024-01")
    run = services.trainingrun_create(user=ds_owner, team=team_credit, external_id="run-1")
    return {"owner": ds_owner, "outsider": outsider, "team": team_credit, "model": model, "v1": v1,
            "dataset": dataset, "dv": dv, "run": run}


ENDPOINTS = [
    Endpoint("registeredmodel-list", "GET", lambda w: "/api/v1/models/", other_team=200),
    Endpoint("registeredmodel-list", "POST", lambda w: "/api/v1/models/", lambda w: {"name": "new-model", "team": "credit"},
             ok=201, audit="registry.model.create", other_team=403),
    Endpoint("registeredmodel-detail", "GET", lambda w: f"{M}/"),
    Endpoint("registeredmodel-detail", "PATCH", lambda w: f"{M}/", lambda w: {"description": "d"}, audit="registry.model.update"),
    Endpoint("registeredmodel-detail", "DELETE", lambda w: f"{M}/", ok=204, audit="registry.model.delete"),
    Endpoint("registeredmodel-rename", "POST", lambda w: f"{M}/rename/", lambda w: {"name": "renamed"}, audit="registry.model.rename"),
    Endpoint("registeredmodel-share", "POST", lambda w: f"{M}/share/", lambda w: {"team": "fraud"}, audit="registry.model.share"),
    Endpoint("registeredmodel-unshare", "POST", lambda w: f"{M}/unshare/", lambda w: {"user": "viewer"}, audit="registry.model.unshare"),
    Endpoint("modelalias-detail", "PUT", lambda w: f"{M}/aliases/challenger/", lambda w: {"version": 1}, audit="registry.alias.set"),
    Endpoint("modelalias-detail", "DELETE", lambda w: f"{M}/aliases/candidate/", ok=204, audit="registry.alias.delete"),
    Endpoint("modelversion-list", "GET", lambda w: f"{M}/versions/"),
    Endpoint("modelversion-list", "POST", lambda w: f"{M}/versions/", lambda w: {"framework": "lightgbm"}, ok=201,
             audit="registry.version.register"),
    Endpoint("modelversion-detail", "GET", lambda w: f"{V1}/"),
    Endpoint("modelversion-detail", "PATCH", lambda w: f"{V1}/", lambda w: {"description": "better"}, audit="registry.version.update"),
    Endpoint("modelversion-finalize", "POST", lambda w: f"{V1}/finalize/", lambda w: {"status": "ready"}, audit="registry.version.ready"),
    Endpoint("modelversion-validate-row", "POST", lambda w: f"{V1}/validate-row/",
             lambda w: {"row": {"sepal_length": 1.0, "sepal_width": 2.0}}),
    Endpoint("modelversion-lineage", "GET", lambda w: f"{V1}/lineage/"),
    Endpoint("artifact-list", "GET", lambda w: f"{V1}/artifacts/"),
    Endpoint("artifact-detail", "GET", lambda w: f"{V1}/artifacts/model/model.bin"),
    Endpoint("artifact-detail", "HEAD", lambda w: f"{V1}/artifacts/model/model.bin"),
    Endpoint("artifact-detail", "PUT", lambda w: f"{V1}/artifacts/code/score.py", ok=201, raw=b"def predict(x): ...",
             audit="registry.artifact.upload"),
    Endpoint("version-search-list", "GET", lambda w: "/api/v1/versions/", other_team=200),
    Endpoint("dataset-list", "GET", lambda w: "/api/v1/datasets/", other_team=200),
    Endpoint("dataset-list", "POST", lambda w: "/api/v1/datasets/", lambda w: {"name": "cards", "team": "credit"}, ok=201,
             audit="registry.dataset.create", other_team=403),
    Endpoint("dataset-detail", "GET", lambda w: f"/api/v1/datasets/{w['dataset'].pk}/"),
    Endpoint("datasetversion-list", "GET", lambda w: "/api/v1/dataset-versions/", other_team=200),
    Endpoint("datasetversion-list", "POST", lambda w: "/api/v1/dataset-versions/",
             lambda w: {"dataset": w["dataset"].pk, "version": "2024-02", "row_count": 10}, ok=201,
             audit="registry.datasetversion.create", other_team=400),
    Endpoint("datasetversion-detail", "GET", lambda w: f"/api/v1/dataset-versions/{w['dv'].pk}/"),
    Endpoint("trainingrun-list", "GET", lambda w: "/api/v1/training-runs/", other_team=200),
    Endpoint("trainingrun-list", "POST", lambda w: "/api/v1/training-runs/", lambda w: {"team": "credit", "external_id": "run-2"},
             ok=201, audit="registry.trainingrun.create", other_team=403),
    Endpoint("trainingrun-detail", "GET", lambda w: f"/api/v1/training-runs/{w['run'].pk}/"),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.route}")
def test_it_enforces_roles_and_teams_on(endpoint, world):
    check_endpoint(endpoint, world)


def test_it_has_a_permission_case_for_every_registry_route():
    names = set()
    for pattern in registry_urls.urlpatterns:
        if pattern.name:
            names.add(pattern.name)
    covered = {e.route for e in ENDPOINTS}
    assert names - covered == set(), f"routes without permission tests: {sorted(names - covered)}"


def test_it_hides_other_teams_rows_from_every_list(world):
    from tests.conftest import api_for

    client = api_for(world["outsider"])
    assert client.get("/api/v1/models/").json()["results"] == []
    assert client.get("/api/v1/versions/").json()["results"] == []
    assert client.get("/api/v1/datasets/").json()["results"] == []
    assert client.get("/api/v1/dataset-versions/").json()["results"] == []
    assert client.get("/api/v1/training-runs/").json()["results"] == []
    assert DatasetVersion.objects.count() == 1

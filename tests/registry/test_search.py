"""Search and filter models and versions; sort; cursor pagination."""

import datetime as dt

import pytest
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel
from tests.conftest import api_for
from tests.registry.factories import make_model, make_version


@pytest.fixture
def catalog(ds_owner, outsider, team_credit, team_fraud):
    scorer = make_model(ds_owner, team_credit, "credit-scorer", tags={"domain": "lending"})
    make_version(ds_owner, scorer, metrics={"auc": 0.71}, framework="sklearn", environment={"python": "3.10"})
    make_version(ds_owner, scorer, metrics={"auc": 0.86}, framework="lightgbm", tags={"champion": "yes"}, environment={"python": "3.11"})
    limits = make_model(ds_owner, team_credit, "limit-setter", tags={"domain": "cards"}, description="sets limits")
    make_version(ds_owner, limits, metrics={"auc": 0.80, "gini": 0.6}, framework="xgboost")
    make_version(outsider, make_model(outsider, team_fraud, "fraud-net"), metrics={"auc": 0.99}, framework="lightgbm")
    return ds_owner


def names(response):
    assert response.status_code == 200, response.content
    return [row.get("model", row.get("name")) for row in response.json()["results"]]


def versions(response):
    return sorted((row["model"], row["version"]) for row in response.json()["results"])


def test_it_filters_versions_by_metric_threshold(catalog):
    client = api_for(catalog)
    assert versions(client.get("/api/v1/versions/", {"metric": "auc>=0.8"})) == [("credit-scorer", 2), ("limit-setter", 1)]
    assert versions(client.get("/api/v1/versions/", {"metric": "auc<0.75"})) == [("credit-scorer", 1)]
    both = client.get("/api/v1/versions/?metric=auc%3E%3D0.8&metric=gini%3E0.5")
    assert versions(both) == [("limit-setter", 1)]
    bad = client.get("/api/v1/versions/", {"metric": "auc is good"})
    assert bad.status_code == 400 and "metric" in bad.json()["error"]["fields"]


def test_it_filters_versions_by_tag_framework_python_and_team(catalog):
    client = api_for(catalog)
    assert versions(client.get("/api/v1/versions/", {"tag": "champion:yes"})) == [("credit-scorer", 2)]
    assert versions(client.get("/api/v1/versions/", {"tag": "champion"})) == [("credit-scorer", 2)]
    assert versions(client.get("/api/v1/versions/", {"framework": "lightgbm"})) == [("credit-scorer", 2)]  # fraud-net is hidden
    assert versions(client.get("/api/v1/versions/", {"python": "3.10"})) == [("credit-scorer", 1)]
    assert versions(client.get("/api/v1/versions/", {"team": "fraud"})) == []
    assert versions(client.get("/api/v1/models/credit-scorer/versions/", {"framework": "sklearn"})) == [("credit-scorer", 1)]


def test_it_filters_models_by_name_tag_team_framework_and_text(catalog):
    client = api_for(catalog)
    assert names(client.get("/api/v1/models/", {"tag": "domain:cards"})) == ["limit-setter"]
    assert names(client.get("/api/v1/models/", {"framework": "xgboost"})) == ["limit-setter"]
    assert names(client.get("/api/v1/models/", {"q": "LIMITS"})) == ["limit-setter"]
    assert names(client.get("/api/v1/models/", {"team": "credit"})) == ["credit-scorer", "limit-setter"]
    assert names(client.get("/api/v1/models/", {"name": "fraud-net"})) == []
    assert names(client.get("/api/v1/models/", {"metric": "auc>=0.85"})) == ["credit-scorer"]
    assert names(client.get("/api/v1/models/?metric=auc%3E%3D0.75&metric=gini%3E0.5")) == ["limit-setter"]


def test_it_filters_by_created_range(catalog):
    RegisteredModel.objects.filter(name="credit-scorer").update(created_at=timezone.now() - dt.timedelta(days=30))
    client = api_for(catalog)
    cutoff = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert names(client.get("/api/v1/models/", {"created_after": cutoff})) == ["limit-setter"]
    assert names(client.get("/api/v1/models/", {"created_before": cutoff})) == ["credit-scorer"]
    ModelVersion.objects.filter(version=1, registered_model__name="credit-scorer").update(created_at=timezone.now() - dt.timedelta(days=30))
    assert versions(client.get("/api/v1/versions/", {"created_before": cutoff})) == [("credit-scorer", 1)]


def test_it_sorts_and_pages_with_cursors(ds_owner, team_credit):
    for i in range(7):
        make_model(ds_owner, team_credit, f"m{i}")
    client = api_for(ds_owner)
    page = client.get("/api/v1/models/", {"ordering": "-name", "limit": 3}).json()
    seen = [row["name"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["name"] for row in page["results"]]
    assert seen == [f"m{i}" for i in reversed(range(7))]
    assert client.get("/api/v1/models/", {"limit": "lots"}).status_code == 400

"""Catalog, model page and version page: visibility, content, constant queries."""

import pytest

from modelgate.core.permissions import restrict
from registry.views import schema_rows
from tests.portal.conftest import client_for, make_model


def test_it_lists_my_teams_models_with_latest_version(ds_owner, credit_model):
    response = client_for(ds_owner).get("/registry/models/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "credit-scoring" in html and "v1" in html and "Ready" in html and "scikit-learn" in html


def test_it_hides_other_teams_models_from_the_catalog_and_answers_404(outsider, credit_model):
    client = client_for(outsider)
    assert "credit-scoring" not in client.get("/registry/models/").content.decode()
    assert client.get("/registry/models/credit-scoring/").status_code == 404
    assert client.get("/registry/models/credit-scoring/versions/1/").status_code == 404


def test_it_shows_an_empty_state_that_says_what_to_do(outsider):
    html = client_for(outsider).get("/registry/models/").content.decode()
    assert "No models yet" in html and "/api/v1/" in html


def test_it_filters_by_search_team_tag_framework_and_status(ds_owner, team_credit):
    make_model(ds_owner, team_credit, "churn", tags={"domain": "retail"})
    make_model(ds_owner, team_credit, "pd-model", tags={"domain": "lending"}, ready=False, artifact=None)
    client = client_for(ds_owner)

    def names(query):
        html = client.get("/registry/models/?" + query).content.decode()
        return {n for n in ("churn", "pd-model") if f">{n}<" in html}

    assert names("q=chu") == {"churn"}
    assert names("tag=domain=lending") == {"pd-model"}
    assert names("tag=domain") == {"churn", "pd-model"}
    assert names("status=pending_upload") == {"pd-model"}
    assert names("framework=sklearn") == {"churn", "pd-model"}
    assert names("framework=xgboost") == set()
    assert names("team=fraud") == set()
    assert "No model matches these filters" in client.get("/registry/models/?q=zzz").content.decode()


def test_it_sorts_and_paginates(ds_owner, team_credit):
    for i in range(30):
        make_model(ds_owner, team_credit, f"m{i:02d}", versions=0)
    client = client_for(ds_owner)
    first = client.get("/registry/models/?sort=name").content.decode()
    assert ">m00<" in first and ">m29<" not in first and "Page 1 of 2" in first
    second = client.get("/registry/models/?sort=name&page=2").content.decode()
    assert ">m29<" in second and ">m00<" not in second


# One page of the catalog, whatever the number of rows:
# session, user (role names and permissions from the cache), COUNT for the paginator, the page of models (annotated with latest
# version, status, framework), environments and active deployment splits of the page (governance's columns),
# environments (governance's "deployed in" filter), teams for the filter.
CATALOG_QUERIES = 8


def test_it_lists_the_catalog_in_a_constant_number_of_queries(ds_owner, team_credit, django_assert_num_queries):
    from guardian.shortcuts import assign_perm

    from registry.models import ModelVersion, RegisteredModel

    client = client_for(ds_owner)
    for i in range(5):
        make_model(ds_owner, team_credit, f"five{i}", versions=1, artifact=None)
    client.get("/registry/models/")  # warm ContentType's process-wide cache (guardian looks it up once)
    with django_assert_num_queries(CATALOG_QUERIES):
        assert client.get("/registry/models/?sort=-versions").status_code == 200

    RegisteredModel.objects.bulk_create([RegisteredModel(name=f"bulk{i:03d}", team=team_credit) for i in range(495)])
    bulk = list(RegisteredModel.objects.filter(name__startswith="bulk"))
    for m in bulk:
        assign_perm("registry.view_registeredmodel", team_credit.group, m)
    ModelVersion.objects.bulk_create([ModelVersion(registered_model=m, version=v, framework="sklearn") for m in bulk for v in (1, 2)])
    # every model serves in Dev (v1 and v2 split 90/10) and UAT, so the environment columns are full
    from governance.models import Deployment, DeploymentSplit
    from tests.portal.conftest import environments

    envs = environments()
    Deployment.objects.bulk_create([Deployment(environment=envs[e], registered_model=m) for m in bulk for e in ("dev", "uat")])
    versions = {(v.registered_model_id, v.version): v for v in ModelVersion.objects.filter(registered_model__in=bulk)}
    DeploymentSplit.objects.bulk_create(
        [DeploymentSplit(deployment=d, version=versions[(d.registered_model_id, n)], weight=w)
         for d in Deployment.objects.filter(registered_model__in=bulk)
         for n, w in (((1, 90), (2, 10)) if d.environment_id == envs["dev"].pk else ((1, 100),))]
    )
    assert restrict(RegisteredModel.objects.all(), ds_owner).count() == 500
    with django_assert_num_queries(CATALOG_QUERIES):
        response = client.get("/registry/models/?sort=-versions&page=3")
    html = response.content.decode()
    assert "Page 3 of 20" in html and "v1 90% / v2 10%" in html


def test_it_renders_a_version_page_with_schema_artifacts_and_lineage(ds_owner, credit_model):
    model, (mv,) = credit_model
    html = client_for(ds_owner).get(f"/registry/models/{model.name}/versions/{mv.version}/").content.decode()
    # schema as a table of columns, not JSON
    assert "<code>income</code>" in html and "Monthly income in EUR" in html and "one of: 18-25, 26-40, 41+" in html
    # environment requirements
    assert "scikit-learn==1.5.2" in html and "3.11" in html
    # artifact with size and full hash
    artifact = mv.artifacts.get()
    assert "model/model.skops" in html and artifact.blob_id in html and "11\xa0bytes" in html
    # lineage diagram: server-rendered SVG with the commit node
    assert "<svg" in html and 'data-kind="commit"' in html and "commit a1b2c3d4e5" in html
    # audit history of this version
    assert "registry.version.register" in html and "registry.artifact.upload" in html


def test_it_shows_the_model_page_with_versions_and_history(mle_teammate, ds_owner, team_credit):
    model, _ = make_model(ds_owner, team_credit, versions=2)
    html = client_for(mle_teammate).get(f"/registry/models/{model.name}/").content.decode()
    assert "v2" in html and "v1" in html and "registry.model.create" in html


@pytest.mark.parametrize(
    ("fmt", "schema", "expected"),
    [
        ("json_schema", {"type": "object", "properties": {"x": {"type": ["number", "null"]}}, "required": ["x"]},
         [{"name": "x", "type": "number", "required": True, "notes": ""}]),
        ("avro", {"type": "record", "name": "r", "fields": [{"name": "y", "type": ["null", "long"]}, {"name": "z", "type": "string", "doc": "id"}]},
         [{"name": "y", "type": "long", "required": False, "notes": ""}, {"name": "z", "type": "string", "required": True, "notes": "id"}]),
        ("json_schema", None, []),
    ],
)
def test_it_turns_schemas_into_readable_rows(fmt, schema, expected):
    assert schema_rows(fmt, schema) == expected


def test_it_links_each_artifact_to_the_api_download_that_the_session_may_use(ds_owner, credit_model):
    import re

    model, (mv,) = credit_model
    client = client_for(ds_owner)
    html = client.get(f"/registry/models/{model.name}/versions/1/").content.decode()
    href = re.search(r'href="(/api/v1/[^"]+model\.skops)" download', html).group(1)
    response = client.get(href)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"model-bytes"


def test_it_shows_a_model_page_in_a_constant_number_of_queries(ds_owner, team_credit, django_assert_num_queries):
    from registry.models import ModelVersion

    model, _ = make_model(ds_owner, team_credit, "many", versions=5, artifact=None)
    client = client_for(ds_owner)
    client.get("/registry/models/many/")
    with django_assert_num_queries(MODEL_PAGE_QUERIES):
        client.get("/registry/models/many/")
    ModelVersion.objects.bulk_create([ModelVersion(registered_model=model, version=n) for n in range(6, 501)])
    with django_assert_num_queries(MODEL_PAGE_QUERIES):
        html = client.get("/registry/models/many/").content.decode()
    assert "v500" in html


# session, user (role names and permissions from the cache), the model, its versions (first 100),
# their aliases, active deployments, environments, open requests, the history. (Splits and
# approvals are prefetched only when something is deployed; dana's role has no rollback button.)
MODEL_PAGE_QUERIES = 9

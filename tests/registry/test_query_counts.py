"""Lists and details cost a fixed number of queries, with 5 rows as with 500.

Common to every request (counted in BASE):
  1 token lookup (with its user), 2 for the user's and their groups' permissions
  (ModelBackend), 1 for their role names, leaving the endpoint's own queries in
  each test's comment. Each request is made once
  before counting: guardian's first call in a process looks content types up (then cached).
"""

import pytest

from registry.models import Artifact, ArtifactBlob, ModelVersion
from tests.conftest import AUTH_QUERIES, api_for
from tests.registry.factories import bulk_models, make_model, make_version

BASE = AUTH_QUERIES


@pytest.fixture
def client(ds_owner):
    client = api_for(ds_owner)
    client.get("/api/v1/me/")  # touch the token's last_used_at now, so no request below writes it
    return client


@pytest.mark.parametrize("rows", [5, 500])
def test_it_lists_models_in_fixed_queries(client, team_credit, rows, django_assert_num_queries):
    bulk_models(team_credit, rows)
    # + 1 models page (restrict subquery inline, team/users joined) + 1 aliases prefetch
    client.get("/api/v1/models/", {"limit": 500})
    with django_assert_num_queries(BASE + 2):
        response = client.get("/api/v1/models/", {"limit": 500})
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [5, 500])
def test_it_lists_versions_in_fixed_queries(client, team_credit, rows, django_assert_num_queries):
    bulk_models(team_credit, rows)
    # + 1 versions page (model, team, run, creator joined) + 4 prefetches:
    #   artifacts (with blobs), aliases, parent links (with parents' models), trained_on (with datasets)
    client.get("/api/v1/versions/", {"limit": 500, "metric": "auc>=0.5", "framework": "sklearn"})
    with django_assert_num_queries(BASE + 5):
        response = client.get("/api/v1/versions/", {"limit": 500, "metric": "auc>=0.5", "framework": "sklearn"})
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [5, 500])
def test_it_lists_one_models_versions_in_fixed_queries(client, ds_owner, team_credit, rows, django_assert_num_queries):
    model = make_model(ds_owner, team_credit)
    ModelVersion.objects.bulk_create([ModelVersion(registered_model=model, version=i + 1) for i in range(rows)])
    # + 1 the model (restricted) + 1 aliases of it + 1 versions page + 4 prefetches
    client.get("/api/v1/models/credit-scorer/versions/", {"limit": 500})
    with django_assert_num_queries(BASE + 7):
        response = client.get("/api/v1/models/credit-scorer/versions/", {"limit": 500})
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [5, 500])
def test_it_shows_a_model_in_fixed_queries(client, ds_owner, team_credit, rows, django_assert_num_queries):
    model = make_model(ds_owner, team_credit)
    versions = ModelVersion.objects.bulk_create([ModelVersion(registered_model=model, version=i + 1) for i in range(rows)])
    from registry.models import ModelAlias

    ModelAlias.objects.bulk_create([ModelAlias(registered_model=model, alias=f"a{i}", version=v) for i, v in enumerate(versions)])
    # + 1 the model + 1 its aliases (with versions)
    client.get("/api/v1/models/credit-scorer/")
    with django_assert_num_queries(BASE + 2):
        response = client.get("/api/v1/models/credit-scorer/")
    assert len(response.json()["aliases"]) == rows


@pytest.mark.parametrize("rows", [5, 500])
def test_it_shows_a_version_with_many_artifacts_in_fixed_queries(client, ds_owner, team_credit, rows, django_assert_num_queries):
    version = make_version(ds_owner, make_model(ds_owner, team_credit))
    blobs = ArtifactBlob.objects.bulk_create([ArtifactBlob(sha256=f"{i:064x}", size=i, storage_name=f"x/{i}") for i in range(rows)])
    Artifact.objects.bulk_create([Artifact(version=version, path=f"f{i}.bin", blob=b) for i, b in enumerate(blobs)])
    # + 1 the version + 4 prefetches
    client.get("/api/v1/models/credit-scorer/versions/1/")
    with django_assert_num_queries(BASE + 5):
        response = client.get("/api/v1/models/credit-scorer/versions/1/")
    assert len(response.json()["artifacts"]) == rows
    with django_assert_num_queries(BASE + 5):
        listing = client.get("/api/v1/models/credit-scorer/versions/1/artifacts/")
    assert len(listing.json()) == rows

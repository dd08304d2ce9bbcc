"""The real ``mlflow-skinny`` client against a live Modelgate server.

Each test points the unmodified client at ``live_server`` with only environment
variables (MLFLOW_TRACKING_URI + MLFLOW_TRACKING_TOKEN, or USERNAME/PASSWORD),
as a CI job would.
"""

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from governance.models import PromotionRequest
from modelgate.core.services import token_create
from registry.models import ModelVersion

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("mlflow-live"),
    # Stages are deprecated in MLflow; CI clients still call transition-stage and get-latest-versions.
    pytest.mark.filterwarnings("ignore:.*Model registry stages will be removed:FutureWarning"),
]


@pytest.fixture
def as_user(live_server, monkeypatch, run_jobs_inline, seeded_environments):
    """Point the MLflow client at the live server as ``user`` (bearer token)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # an error must surface, not be retried for minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    mlflow.set_tracking_uri(live_server.url)
    mlflow.set_registry_uri(live_server.url)

    def login(user):
        _, raw = token_create(user=user, name="mlflow")
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", raw)
        return MlflowClient(registry_uri=live_server.url)

    yield login
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_it_registers_and_queries_models_with_the_real_client(as_user, ds_owner):
    client = as_user(ds_owner)
    created = client.create_registered_model("credit-scorer", tags={"domain": "credit"}, description="PD model")
    assert created.name == "credit-scorer" and created.tags == {"domain": "credit"}
    with pytest.raises(MlflowException) as info:
        client.create_registered_model("credit-scorer")
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"

    # mlflow.register_model on an existing model: it sees RESOURCE_ALREADY_EXISTS and adds a version,
    # then polls get until READY.
    v1 = mlflow.register_model("s3://models/credit/1", "credit-scorer", tags={"commit": "abc123"})
    assert (v1.version, v1.status) == ("1", "READY")
    v2 = client.create_model_version("credit-scorer", "s3://models/credit/2", run_id="run-2", tags={"team": "credit", "auc": 0.83})
    assert v2.version == "2" and v2.tags == {"team": "credit", "auc": "0.83"}
    assert client.get_model_version("credit-scorer", "2").status == "READY"

    fetched = client.get_model_version("credit-scorer", "1")
    assert (fetched.source, fetched.tags, fetched.current_stage) == ("s3://models/credit/1", {"commit": "abc123"}, "None")
    assert client.get_model_version_download_uri("credit-scorer", "2") == "s3://models/credit/2"

    client.set_registered_model_alias("credit-scorer", "candidate", "2")
    by_alias = client.get_model_version_by_alias("credit-scorer", "candidate")
    assert by_alias.version == "2" and by_alias.aliases == ["candidate"]
    assert client.get_registered_model("credit-scorer").aliases == {"candidate": "2"}
    with pytest.raises(MlflowException) as info:
        client.get_model_version_by_alias("credit-scorer", "nope")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"

    found = client.search_model_versions("name = 'credit-scorer' AND run_id = 'run-2'")
    assert [v.version for v in found] == ["2"]
    assert [v.version for v in client.search_model_versions("tags.team = 'credit'")] == ["2"]

    client.set_model_version_tag("credit-scorer", "1", "reviewed", "yes")
    client.delete_model_version_tag("credit-scorer", "1", "commit")
    assert client.get_model_version("credit-scorer", "1").tags == {"reviewed": "yes"}
    client.update_model_version("credit-scorer", "1", description="first")
    client.update_registered_model("credit-scorer", description="PD model v2")
    client.set_registered_model_tag("credit-scorer", "tier", "1")
    client.delete_registered_model_tag("credit-scorer", "domain")
    model = client.get_registered_model("credit-scorer")
    assert (model.description, model.tags) == ("PD model v2", {"tier": "1"})
    assert [v.version for v in model.latest_versions] == ["2"]
    assert [v.version for v in client.get_latest_versions("credit-scorer", stages=["None"])] == ["2"]
    client.delete_registered_model_alias("credit-scorer", "candidate")
    assert client.get_registered_model("credit-scorer").aliases == {}
    client.rename_registered_model("credit-scorer", "pd-scorer")
    assert client.get_model_version("pd-scorer", "2").name == "pd-scorer"
    client.delete_registered_model("pd-scorer")
    with pytest.raises(MlflowException) as info:
        client.get_registered_model("pd-scorer")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_it_pages_through_model_search(as_user, ds_owner):
    client = as_user(ds_owner)
    for i in range(7):
        client.create_registered_model(f"m-{i}")
    seen, token, pages = [], None, 0
    while True:
        page = client.search_registered_models(max_results=3, page_token=token)
        seen += [m.name for m in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert (seen, pages) == ([f"m-{i}" for i in range(7)], 3)
    assert [m.name for m in client.search_registered_models("name LIKE 'm-1%'")] == ["m-1"]


def test_it_refuses_unsafe_sources(as_user, ds_owner):
    client = as_user(ds_owner)
    client.create_registered_model("credit-scorer")
    for source in ("file:///etc/passwd", "s3://bucket/../other", "s3://bucket/%2e%2e/other", "s3://bucket/%252e%252e/other"):
        with pytest.raises(RestException) as info:
            client.create_model_version("credit-scorer", source, tags={"modelgate.skip_source_check": "true"})
        assert info.value.error_code == "INVALID_PARAMETER_VALUE", source
    assert not ModelVersion.objects.exists()


def test_it_turns_transition_stage_into_a_promotion_request(as_user, ds_owner):
    client = as_user(ds_owner)
    client.create_registered_model("credit-scorer")
    client.create_model_version("credit-scorer", "s3://models/credit/1")
    moved = client.transition_model_version_stage("credit-scorer", "1", "Staging")
    assert moved.current_stage == "None"  # unchanged: the request waits for approvers
    request = PromotionRequest.objects.get()
    assert (request.environment.slug, request.version.version, request.requested_by) == ("uat", 1, ds_owner)
    with pytest.raises(MlflowException) as info:
        client.set_registered_model_alias("credit-scorer", "champion", "1")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"  # not approved for Prod


def test_it_refuses_a_user_of_another_team(as_user, ds_owner, outsider):
    owner = as_user(ds_owner)
    owner.create_registered_model("credit-scorer")
    owner.create_model_version("credit-scorer", "s3://models/credit/1")
    other = as_user(outsider)
    with pytest.raises(MlflowException) as info:
        other.get_registered_model("credit-scorer")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as info:
        other.create_model_version("credit-scorer", "s3://models/fraud/1", await_creation_for=0)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert list(other.search_registered_models()) == []
    assert ModelVersion.objects.count() == 1


def test_it_accepts_http_basic_credentials(as_user, ds_owner, monkeypatch, live_server):
    as_user(ds_owner)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "dana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-for-tests-only")
    client = MlflowClient(registry_uri=live_server.url)
    assert client.create_registered_model("basic-model").name == "basic-model"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(MlflowException) as info:
        client.get_registered_model("basic-model")
    assert info.value.error_code == "UNAUTHENTICATED"

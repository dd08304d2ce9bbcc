"""The MLflow endpoints through Django's test client: wire format, error
mapping, permissions, CSRF, the pending → ready path and query counts."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from governance.choices import DeploymentStatus
from governance.models import Deployment, DeploymentSplit, Environment, PromotionRequest
from modelgate.core import jobs, roles
from modelgate.core.models import AuditEvent, Job
from registry import services as registry_services
from registry.models import ModelAlias, ModelVersion, RegisteredModel
from tests.conftest import AUTH_QUERIES
from tests.factories import TeamFactory, UserFactory
from tests.mlflow.helpers import MlflowApi
from tests.registry.factories import bulk_models

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded_environments")]


@pytest.fixture
def dana(ds_owner):
    return MlflowApi(ds_owner)


def _create(api, name="credit-scorer", tags=None):
    status, body = api.post("registered-models/create", {"name": name, "tags": tags or []})
    assert status == 200, body
    return body["registered_model"]


def _version(api, name="credit-scorer", source="s3://bucket/credit/1", **extra):
    status, body = api.post("model-versions/create", {"name": name, "source": source, **extra})
    assert status == 200, body
    return body["model_version"]


def test_it_answers_in_mlflows_wire_format(dana, ds_owner):
    model = _create(dana, tags=[{"key": "domain", "value": "credit"}])
    assert set(model) == {"name", "creation_timestamp", "last_updated_timestamp", "user_id", "tags"}  # unset fields omitted
    assert model["tags"] == [{"key": "domain", "value": "credit"}]
    assert model["user_id"] == "dana"
    assert isinstance(model["creation_timestamp"], int) and model["creation_timestamp"] > 1_600_000_000_000  # epoch ms
    version = _version(dana, run_id="run-1", tags=[{"key": "stage", "value": "candidate"}], description="first")
    assert version["version"] == "1"  # a string on the wire
    assert version["status"] == "READY"  # an external store: validated, never fetched, nothing left to verify
    assert version["current_stage"] == "None"
    assert version["source"] == "s3://bucket/credit/1" and version["run_id"] == "run-1"
    assert version["tags"] == [{"key": "stage", "value": "candidate"}]
    assert "aliases" not in version and "status_message" not in version
    status, body = dana.get("registered-models/get", {"name": "credit-scorer"})
    assert status == 200
    assert body["registered_model"]["latest_versions"][0]["version"] == "1"


def _held_blob(ds_owner, team_credit, data=b"model-bytes"):
    """A blob attached to a version of a model the user sees (the only blobs a source may name)."""
    model = registry_services.registered_model_create(user=ds_owner, name="credit-files", team=team_credit)
    version, _ = registry_services.modelversion_register(user=ds_owner, registered_model=model)
    return registry_services.artifact_upload(user=ds_owner, version=version, path="model.bin", chunks=[data]).blob


def test_it_keeps_a_modelgate_source_pending_until_the_verification_job_ran(dana, ds_owner, team_credit, run_jobs_inline):
    blob = _held_blob(ds_owner, team_credit)
    _create(dana)
    created = _version(dana, source=f"modelgate:blobs/{blob.sha256}")
    assert created["status"] == "PENDING_REGISTRATION"  # the job runs on commit; the test transaction never commits
    job = Job.objects.get(kind="registry_mlflow.verify_source")
    jobs.claim(job.pk)
    jobs.execute(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    status, body = dana.get("model-versions/get", {"name": "credit-scorer", "version": "1"})
    assert status == 200 and body["model_version"]["status"] == "READY"
    assert not Job.objects.filter(kind="registry_mlflow.verify_source").exclude(pk=job.pk).exists()
    _version(dana, source="s3://bucket/credit/2")  # external stores need no job
    assert Job.objects.filter(kind="registry_mlflow.verify_source").count() == 1


def test_it_refuses_a_modelgate_blob_it_does_not_hold_at_registration(dana):
    _create(dana)
    status, body = dana.post("model-versions/create", {"name": "credit-scorer", "source": "modelgate:blobs/" + "0" * 64})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "no stored blob" in body["message"]
    assert not ModelVersion.objects.exists() and not Job.objects.exists()


def test_it_fails_registration_of_a_blob_that_no_longer_matches_its_hash(
    dana, ds_owner, team_credit, artifact_store, django_capture_on_commit_callbacks, run_jobs_inline,
):
    blob = _held_blob(ds_owner, team_credit)
    (artifact_store / blob.storage_name).write_bytes(b"tampered")
    _create(dana)
    with django_capture_on_commit_callbacks(execute=True):
        assert _version(dana, source=f"modelgate:blobs/{blob.sha256}")["status"] == "PENDING_REGISTRATION"
    status, body = dana.get("model-versions/get", {"name": "credit-scorer", "version": "1"})
    assert body["model_version"]["status"] == "FAILED_REGISTRATION"
    assert "does not match its SHA-256" in body["model_version"]["status_message"]


def test_it_maps_errors_as_mlflow_does(dana):
    _create(dana)
    assert dana.post("registered-models/create", {"name": "credit-scorer"}) == (
        400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "A model named 'credit-scorer' already exists."})
    status, body = dana.get("registered-models/get", {"name": "missing"})
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = dana.get("model-versions/get", {"name": "credit-scorer", "version": "7"})
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = dana.get("model-versions/get", {"name": "credit-scorer", "version": "x"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = dana.get("registered-models/alias", {"name": "credit-scorer", "alias": "nope"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")  # unknown alias: 400, as MLflow
    status, body = dana.post("registered-models/create", {})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "name" in body["message"]
    status, body = dana.get("registered-models/search", {"filter": "name = 'a' OR name = 'b'"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = dana.get("registered-models/search", {"page_token": "not-a-token"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = dana.call("PUT", "registered-models/create", {"name": "x"})
    assert (status, body["error_code"]) == (405, "ENDPOINT_NOT_FOUND")


def test_it_refuses_unsafe_sources_whatever_the_tags_say(dana):
    _create(dana)
    for source in ("file:///etc/passwd", "/srv/model", "s3://b/../x", "s3://b/%2e%2e/x", "s3://b/%252e%252e/x"):
        status, body = dana.post("model-versions/create", {
            "name": "credit-scorer", "source": source,
            "tags": [{"key": "modelgate.skip_source_check", "value": "true"}, {"key": "mlflow.skip_validation", "value": "1"}],
        })
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), source
    assert not ModelVersion.objects.exists()  # nothing half-written
    assert RegisteredModel.objects.get().last_version == 0


def test_it_needs_credentials_and_never_takes_a_session_cookie(ds_owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ds_owner)
    anonymous = MlflowApi(client=client)
    status, body = anonymous.post("registered-models/create", {"name": "via-cookie"})
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")
    status, body = anonymous.get("registered-models/search")
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")
    assert not RegisteredModel.objects.exists()
    status, body = MlflowApi(basic=("dana", "wrong")).get("registered-models/search")
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")


def test_it_accepts_basic_auth_with_a_password_or_a_token(ds_owner):
    status, _ = MlflowApi(basic=("dana", "pw-for-tests-only")).post("registered-models/create", {"name": "basic-pw"})
    assert status == 200
    token_user = MlflowApi(ds_owner)
    status, body = MlflowApi(basic=("dana", token_user.token)).get("registered-models/get", {"name": "basic-pw"})
    assert status == 200 and body["registered_model"]["name"] == "basic-pw"
    status, body = MlflowApi(basic=("mel", token_user.token)).get("registered-models/get", {"name": "basic-pw"})
    assert status == 401  # dana's token is not mel's password


def test_it_hides_other_teams_models_and_refuses_their_writes(dana, outsider):
    _create(dana)
    _version(dana)
    otto = MlflowApi(outsider)
    for path, params in [
        ("registered-models/get", {"name": "credit-scorer"}),
        ("model-versions/get", {"name": "credit-scorer", "version": "1"}),
        ("model-versions/get-download-uri", {"name": "credit-scorer", "version": "1"}),
    ]:
        status, body = otto.get(path, params)
        assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), path
    status, body = otto.post("model-versions/create", {"name": "credit-scorer", "source": "s3://b/m"})
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    # In MLflow's words, and the same answer as for a model that does not exist at all.
    assert body["message"] == "Registered Model with name=credit-scorer not found"
    assert dana.post("model-versions/create", {"name": "missing", "source": "s3://b/m"}) == (
        404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=missing not found"})
    status, body = otto.delete("registered-models/delete", {"name": "credit-scorer"})
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = otto.get("registered-models/search")
    assert body == {"registered_models": []}
    assert ModelVersion.objects.count() == 1


def test_it_refuses_writes_to_read_only_roles(dana, auditor):
    _create(dana)
    audrey = MlflowApi(auditor)
    status, body = audrey.get("registered-models/get", {"name": "credit-scorer"})
    assert status == 200  # auditors read every team
    status, body = audrey.patch("registered-models/update", {"name": "credit-scorer", "description": "x"})
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    status, body = audrey.post("registered-models/create", {"name": "audit-model", "tags": [{"key": "modelgate.team", "value": "credit"}]})
    assert status == 403


def test_it_picks_the_team_from_the_single_membership_or_the_team_tag(ds_owner, team_credit, team_fraud):
    multi = UserFactory(username="maya", roles=[roles.DATA_SCIENTIST], teams=[team_credit, team_fraud])
    api = MlflowApi(multi)
    status, body = api.post("registered-models/create", {"name": "ambiguous"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "modelgate.team" in body["message"]
    model = _create(api, name="fraud-model", tags=[{"key": "modelgate.team", "value": "fraud"}, {"key": "k", "value": "v"}])
    assert model["tags"] == [{"key": "k", "value": "v"}]  # the directive is not stored as a tag
    assert RegisteredModel.objects.get(name="fraud-model").team == team_fraud
    status, body = api.post("registered-models/create", {"name": "x", "tags": [{"key": "modelgate.team", "value": TeamFactory(slug="other").slug}]})
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    _create(MlflowApi(ds_owner), name="single-team")
    assert RegisteredModel.objects.get(name="single-team").team == team_credit


def test_it_covers_the_model_lifecycle_and_audits_every_write(dana):
    _create(dana)
    _version(dana)
    assert dana.patch("registered-models/update", {"name": "credit-scorer", "description": "PD model"})[1]["registered_model"]["description"] == "PD model"
    assert dana.post("registered-models/set-tag", {"name": "credit-scorer", "key": "owner", "value": "dana"}) == (200, {})
    assert dana.delete("registered-models/delete-tag", {"name": "credit-scorer", "key": "owner"}) == (200, {})
    assert dana.post("model-versions/set-tag", {"name": "credit-scorer", "version": "1", "key": "k", "value": "v"}) == (200, {})
    status, body = dana.patch("model-versions/update", {"name": "credit-scorer", "version": "1", "description": "v1"})
    assert body["model_version"]["description"] == "v1" and body["model_version"]["tags"] == [{"key": "k", "value": "v"}]
    assert dana.delete("model-versions/delete-tag", {"name": "credit-scorer", "version": "1", "key": "k"}) == (200, {})
    assert dana.post("registered-models/alias", {"name": "credit-scorer", "alias": "candidate", "version": "1"}) == (200, {})
    status, body = dana.get("registered-models/get", {"name": "credit-scorer"})
    assert body["registered_model"]["aliases"] == [{"alias": "candidate", "version": "1"}]
    assert dana.get("model-versions/get-download-uri", {"name": "credit-scorer", "version": "1"}) == (200, {"artifact_uri": "s3://bucket/credit/1"})
    status, body = dana.post("registered-models/get-latest-versions", {"name": "credit-scorer"})
    assert [v["version"] for v in body["model_versions"]] == ["1"]
    status, body = dana.get("registered-models/get-latest-versions", {"name": "credit-scorer", "stages": ["Production"]})
    assert body == {"model_versions": []}  # nothing deployed to Prod
    assert dana.delete("registered-models/alias", {"name": "credit-scorer", "alias": "candidate"}) == (200, {})
    status, body = dana.post("registered-models/rename", {"name": "credit-scorer", "new_name": "pd-scorer"})
    assert body["registered_model"]["name"] == "pd-scorer"
    status, body = dana.delete("model-versions/delete", {"name": "pd-scorer", "version": "1"})
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")  # versions are immutable records; admins only
    assert dana.delete("registered-models/delete", {"name": "pd-scorer"}) == (200, {})
    actions = list(AuditEvent.objects.filter(model_name__in=["credit-scorer", "pd-scorer"]).values_list("action", flat=True))
    for action in ("registry.model.create", "registry.version.register", "registry.model.update", "registry.version.update",
                   "registry.alias.set", "registry.alias.delete", "registry.model.rename", "registry.model.delete"):
        assert action in actions
    assert AuditEvent.objects.filter(action="registry.model.create", actor_username="dana").exists()


def test_it_lets_an_admin_delete_a_version(admin_user, dana):
    _create(dana)
    _version(dana)
    ada = MlflowApi(admin_user)
    assert ada.delete("model-versions/delete", {"name": "credit-scorer", "version": "1"}) == (200, {})
    assert not ModelVersion.objects.exists()
    assert AuditEvent.objects.filter(action="registry.version.delete", actor_username="ada").exists()


def test_it_keeps_environment_bound_aliases_on_approved_versions(dana, ds_owner):
    _create(dana)
    _version(dana)
    for alias in ("prod", "champion", "staging"):
        status, body = dana.post("registered-models/alias", {"name": "credit-scorer", "alias": alias, "version": "1"})
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), alias
        assert "approved" in body["message"]
    assert not ModelAlias.objects.exists()
    version = ModelVersion.objects.get()
    PromotionRequest.objects.create(
        version=version, environment=Environment.objects.get(slug="prod"), requested_by=ds_owner, state="approved"
    )
    assert dana.post("registered-models/alias", {"name": "credit-scorer", "alias": "champion", "version": "1"}) == (200, {})
    status, body = dana.post("registered-models/alias", {"name": "credit-scorer", "alias": "staging", "version": "1"})
    assert status == 400  # approved for Prod is not approved for UAT


def test_it_opens_a_promotion_request_on_transition_stage_and_leaves_the_version(dana, ds_owner):
    _create(dana)
    _version(dana)
    status, body = dana.post("model-versions/transition-stage", {
        "name": "credit-scorer", "version": "1", "stage": "Staging", "archive_existing_versions": False,
    })
    assert status == 200, body
    assert body["model_version"]["current_stage"] == "None"  # unchanged: approvers decide
    req = PromotionRequest.objects.get()
    assert (req.environment.slug, req.requested_by, req.version.version) == ("uat", ds_owner, 1)
    # A repeat does not open a second request.
    assert dana.post("model-versions/transition-stage", {"name": "credit-scorer", "version": "1", "stage": "staging"})[0] == 200
    assert PromotionRequest.objects.count() == 1
    status, body = dana.post("model-versions/transition-stage", {"name": "credit-scorer", "version": "1", "stage": "Archived"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = dana.post("model-versions/transition-stage", {"name": "credit-scorer", "version": "1", "stage": "Live"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_it_searches_with_filters_order_and_pages(dana):
    for name in ("fraud-a", "credit-a", "credit-b", "credit-c"):
        _create(dana, name=name, tags=[{"key": "domain", "value": name.split("-")[0]}])
    _version(dana, name="credit-a", run_id="r1")
    _version(dana, name="credit-a", run_id="r2", source="s3://bucket/other")
    _version(dana, name="credit-b", run_id="r1")

    def names(params):
        status, body = dana.get("registered-models/search", params)
        assert status == 200, body
        return [m["name"] for m in body["registered_models"]], body.get("next_page_token")

    assert names({"filter": "name LIKE 'credit-%'"})[0] == ["credit-a", "credit-b", "credit-c"]
    assert names({"filter": "name ILIKE 'CREDIT-_'", "order_by": ["name DESC"]})[0] == ["credit-c", "credit-b", "credit-a"]
    assert names({"filter": "tags.domain = 'fraud'"})[0] == ["fraud-a"]
    assert names({"filter": "tags.`domain` != 'fraud' AND name != 'credit-b'"})[0] == ["credit-a", "credit-c"]
    _create(dana, name="untagged")
    assert names({"filter": "tag.`domain` != 'credit'"})[0] == ["fraud-a", "untagged"]  # no tag counts as "not equal"
    first, token = names({"max_results": 3})
    assert first == ["credit-a", "credit-b", "credit-c"] and token
    assert names({"max_results": 3, "page_token": token}) == (["fraud-a", "untagged"], None)

    def versions(params):
        status, body = dana.get("model-versions/search", params)
        assert status == 200, body
        return sorted((v["name"], v["version"]) for v in body["model_versions"])

    assert versions({"filter": "name = 'credit-a'"}) == [("credit-a", "1"), ("credit-a", "2")]
    assert versions({"filter": "run_id = 'r1'"}) == [("credit-a", "1"), ("credit-b", "1")]
    assert versions({"filter": "run_id IN ('r2', 'zz')"}) == [("credit-a", "2")]
    assert versions({"filter": "source_path = 's3://bucket/other'"}) == [("credit-a", "2")]
    assert versions({"filter": "name = 'credit-a' AND version_number > 1"}) == [("credit-a", "2")]
    status, body = dana.get("model-versions/search", {"filter": "status = 'READY'"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_it_caps_max_results(dana):
    _create(dana)
    status, body = dana.get("registered-models/search", {"max_results": "200000"})
    assert status == 200  # clamped to the cap, not a 200,000-row page
    status, body = dana.get("registered-models/search", {"max_results": "0"})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("count", [5, 500])
def test_it_searches_models_in_constant_queries(dana, team_credit, count, django_assert_max_num_queries):
    bulk_models(team_credit, count)
    # Warm up with the same request: caches (content types, the token touch).
    dana.get("registered-models/search", {"max_results": "1000"})
    # authentication, the page (restricted), newest versions (stages annotated), aliases
    with django_assert_max_num_queries(AUTH_QUERIES + 3):
        status, body = dana.get("registered-models/search", {"max_results": "1000"})
    assert status == 200 and len(body["registered_models"]) == count
    assert all(m["latest_versions"][0]["version"] == "1" for m in body["registered_models"])


@pytest.mark.parametrize("count", [5, 500])
def test_it_searches_versions_in_constant_queries(dana, team_credit, count, django_assert_max_num_queries):
    bulk_models(team_credit, count)
    dana.get("model-versions/search", {"filter": "name LIKE 'bulk-%'", "max_results": "1000"})  # warm-up, as above
    # authentication, the page (restricted; aliases and stages annotated)
    with django_assert_max_num_queries(AUTH_QUERIES + 1):
        status, body = dana.get("model-versions/search", {"filter": "name LIKE 'bulk-%'", "max_results": "1000"})
    assert status == 200 and len(body["model_versions"]) == count
    assert all(re.fullmatch(r"\d+", v["version"]) for v in body["model_versions"])


def test_a_like_pattern_is_matched_exactly_and_case_sensitively(dana):
    names = ["fraud", "fraud-a", "fraud-b", "fraud-_9", "fraud.x", "Fraud-c", "fraue", "frauc-z"]
    for name in names:
        _create(dana, name=name)
    _version(dana, name="fraud-a")
    _version(dana, name="fraud.x")

    def found(path, key, pattern):
        status, body = dana.get(path, {"filter": f"name LIKE '{pattern}'", "max_results": "100"})
        assert status == 200, body
        return sorted(item["name"] for item in body[key])

    assert found("registered-models/search", "registered_models", "fraud-%") == ["fraud-_9", "fraud-a", "fraud-b"]
    assert found("registered-models/search", "registered_models", "fraud%") == ["fraud", "fraud-_9", "fraud-a", "fraud-b", "fraud.x"]
    assert found("registered-models/search", "registered_models", "fraud-_") == ["fraud-a", "fraud-b"]
    assert found("registered-models/search", "registered_models", "%-a") == ["fraud-a"]
    assert found("model-versions/search", "model_versions", "fraud.%") == ["fraud.x"]
    status, body = dana.get("model-versions/search", {"filter": "source_path LIKE 's3://bucket/credit/%'"})
    assert status == 200 and sorted(v["name"] for v in body["model_versions"]) == ["fraud-a", "fraud.x"]


def test_it_reads_a_version_by_alias_in_constant_queries_with_every_wire_field(dana, django_assert_max_num_queries):
    # The alias read selects only the columns MLflow's wire shows and answers from the
    # row, not a model object: a field the wire needs but the read left out would fail.
    _create(dana)
    _version(dana, run_id="run-7", description="first cut", tags=[{"key": "stage", "value": "dev"}])
    assert dana.post("registered-models/alias", {"name": "credit-scorer", "alias": "candidate", "version": "1"})[0] == 200
    dana.get("registered-models/alias", {"name": "credit-scorer", "alias": "candidate"})  # warm-up, as above
    with django_assert_max_num_queries(AUTH_QUERIES + 1):  # authentication, then the version
        status, body = dana.get("registered-models/alias", {"name": "credit-scorer", "alias": "candidate"})
    assert status == 200
    version = body["model_version"]
    assert (version["version"], version["source"], version["run_id"], version["description"]) == (
        "1", "s3://bucket/credit/1", "run-7", "first cut")
    assert version["tags"] == [{"key": "stage", "value": "dev"}] and version["aliases"] == ["candidate"]
    assert version["user_id"] == "dana" and version["status"] in ("READY", "PENDING_REGISTRATION")


def test_it_reports_the_stage_governance_deployed_a_version_to(dana):
    _create(dana)
    _version(dana)
    _version(dana, source="s3://bucket/credit/2")
    version = ModelVersion.objects.get(version=1)
    deployment = Deployment.objects.create(environment=Environment.objects.get(slug="prod"), registered_model=version.registered_model)
    DeploymentSplit.objects.create(deployment=deployment, version=version, weight=100)
    status, body = dana.get("model-versions/get", {"name": "credit-scorer", "version": "1"})
    assert body["model_version"]["current_stage"] == "Production"
    status, body = dana.get("registered-models/get-latest-versions", {"name": "credit-scorer", "stages": ["Production", "None"]})
    assert [(v["version"], v["current_stage"]) for v in body["model_versions"]] == [("1", "Production"), ("2", "None")]
    status, body = dana.get("model-versions/search", {"filter": "name = 'credit-scorer'"})
    assert {v["version"]: v["current_stage"] for v in body["model_versions"]} == {"1": "Production", "2": "None"}


def test_a_version_in_uat_and_prod_is_in_production_and_an_inactive_deployment_is_no_stage(dana):
    _create(dana)
    _version(dana)
    _version(dana, source="s3://bucket/credit/2")
    one, two = ModelVersion.objects.order_by("version")
    uat, prod = (Deployment.objects.create(environment=Environment.objects.get(slug=slug), registered_model=one.registered_model)
                 for slug in ("uat", "prod"))
    DeploymentSplit.objects.create(deployment=uat, version=one, weight=50)
    DeploymentSplit.objects.create(deployment=uat, version=two, weight=50)
    DeploymentSplit.objects.create(deployment=prod, version=one, weight=100)
    status, body = dana.get("model-versions/search", {"filter": "name = 'credit-scorer'"})
    assert {v["version"]: v["current_stage"] for v in body["model_versions"]} == {"1": "Production", "2": "Staging"}
    Deployment.objects.filter(environment__slug="uat").update(status=DeploymentStatus.RETIRED)
    assert dana.get("model-versions/get", {"name": "credit-scorer", "version": "2"})[1]["model_version"]["current_stage"] == "None"


def test_it_decides_roles_and_permissions_as_django_does(dana, team_credit):
    _create(dana)
    no_role = MlflowApi(UserFactory(username="nora", teams=[team_credit]))
    assert no_role.get("registered-models/search") == (200, {"registered_models": []})
    status, body = no_role.post("registered-models/create", {"name": "x"})
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    direct = UserFactory(username="dirk", teams=[team_credit])
    direct.user_permissions.add(Permission.objects.get(content_type__app_label="registry", codename="view_registeredmodel"))
    status, body = MlflowApi(direct).get("registered-models/search")
    assert [m["name"] for m in body["registered_models"]] == ["credit-scorer"]  # a direct user permission counts

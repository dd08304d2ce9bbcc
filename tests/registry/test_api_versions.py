"""Versions: numbering, idempotent registration, schemas, immutability, status."""

import pytest

from modelgate.core.models import AuditEvent
from registry.models import ModelVersion
from tests.conftest import api_for
from tests.registry.factories import CAR_RECORD, IRIS_SCHEMA, make_model, make_version

URL = "/api/v1/models/credit-scorer/versions/"

FULL = {
    "framework": "sklearn",
    "metrics": {"auc": 0.83, "ks": 0.41},
    "params": {"max_depth": 4, "criterion": "gini"},
    "input_schema": IRIS_SCHEMA,
    "output_schema": {"type": "object", "properties": {"score": {"type": "number"}}},
    "signature_sample": {"sepal_length": 5.1, "sepal_width": 3.5},
    "environment": {"python": "3.11", "packages": ["scikit-learn==1.5.2", "numpy==2.1.0"]},
    "entry_point": "score.py:predict",
    "serving": {"mode": "batch", "input": {"type": "s3", "location": "s3://in/loans/"}, "output": {"type": "s3", "location": "s3://out/"}},
    "source_repository": "https://git.example.com/credit/scorer",
    "source_commit": "0123456789abcdef0123456789abcdef01234567",
    "tags": {"ticket": "CR-12"},
    "description": "first",
}


@pytest.fixture
def model(ds_owner, team_credit):
    return make_model(ds_owner, team_credit)


def test_it_registers_numbered_versions_with_everything_ci_knows(ds_owner, model):
    client = api_for(ds_owner)
    first = client.post(URL, FULL, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["version"] == 1 and body["status"] == "pending_upload"
    assert body["metrics"] == {"auc": 0.83, "ks": 0.41} and body["serving"]["mode"] == "batch"
    assert client.post(URL, {}, format="json").json()["version"] == 2
    assert client.get("/api/v1/models/credit-scorer/").json()["latest_version"] == 2


def test_it_returns_the_same_version_for_a_repeated_idempotency_key(ds_owner, model):
    client = api_for(ds_owner)
    first = client.post(URL, FULL, format="json", HTTP_IDEMPOTENCY_KEY="ci-build-77")
    again = client.post(URL, FULL, format="json", HTTP_IDEMPOTENCY_KEY="ci-build-77")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["version"] == first.json()["version"] == 1
    assert ModelVersion.objects.count() == 1
    assert client.post(URL, FULL, format="json", HTTP_IDEMPOTENCY_KEY="ci-build-78").json()["version"] == 2
    assert AuditEvent.objects.filter(action="registry.version.register").count() == 2


def test_it_accepts_the_avro_car_record_schema_and_validates_rows(ds_owner, model):
    client = api_for(ds_owner)
    response = client.post(URL, {"schema_format": "avro", "input_schema": CAR_RECORD,
                                 "signature_sample": {"make": "Volvo", "year": 2019, "price": None}}, format="json")
    assert response.status_code == 201, response.content
    ok = client.post(f"{URL}1/validate-row/", {"row": {"make": "Saab", "year": 1999, "price": 1200.5}}, format="json").json()
    assert ok == {"valid": True, "errors": []}
    bad = client.post(f"{URL}1/validate-row/", {"row": {"make": "Saab", "year": "old"}}, format="json").json()
    assert bad["valid"] is False and any("year" in e for e in bad["errors"])


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("input_schema", {"input_schema": {"type": "no-such-type"}}),
        ("input_schema", {"schema_format": "avro", "input_schema": {"type": "record", "name": "R", "fields": [{"name": "x", "type": "nope"}]}}),
        ("input_schema", {"schema_format": "avro", "input_schema": {"type": "string"}}),
        ("signature_sample", {"input_schema": IRIS_SCHEMA, "signature_sample": {"sepal_length": "long"}}),
        ("metrics", {"metrics": {"auc": "high"}}),
        ("environment", {"environment": {"python": "3.11", "packages": ["numpy>=1"]}}),
        ("serving", {"serving": {"mode": "carrier-pigeon"}}),
        ("source_commit", {"source_commit": "not-a-sha"}),
    ],
)
def test_it_refuses_malformed_declarations_and_stores_nothing(ds_owner, model, field, payload):
    response = api_for(ds_owner).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not ModelVersion.objects.exists()
    model.refresh_from_db()
    assert model.last_version == 0  # no number was burnt


def test_it_refuses_changing_frozen_fields_with_409_and_audits_description_edits(ds_owner, model):
    client = api_for(ds_owner)
    client.post(URL, FULL, format="json")
    for frozen in ({"metrics": {"auc": 0.99}}, {"input_schema": {}}, {"source_commit": "abcdef1"}, {"trained_on": []}):
        response = client.patch(f"{URL}1/", frozen, format="json")
        assert response.status_code == 409, frozen
        error = response.json()["error"]
        assert error["code"] == "immutable" and "cannot change after registration" in error["message"]
    assert ModelVersion.objects.get().metrics == FULL["metrics"]
    edited = client.patch(f"{URL}1/", {"description": "second thoughts", "tags": {"ticket": "CR-13"}}, format="json")
    assert edited.status_code == 200 and edited.json()["description"] == "second thoughts"
    event = AuditEvent.objects.filter(action="registry.version.update").get()
    assert event.changes["description"] == {"before": "first", "after": "second thoughts"}
    assert event.model_name == "credit-scorer" and event.team_slug == "credit"
    assert client.patch(f"{URL}1/", {"colour": "red"}, format="json").status_code == 400


def test_it_finalizes_once_and_then_freezes_artifacts(ds_owner, model):
    client = api_for(ds_owner)
    client.post(URL, {}, format="json")
    put = client.put(f"{URL}1/artifacts/model.bin", data=b"abc", content_type="application/octet-stream")
    assert put.status_code == 201
    assert client.post(f"{URL}1/finalize/", {}, format="json").json()["status"] == "ready"
    again = client.post(f"{URL}1/finalize/", {"status": "failed"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    late = client.put(f"{URL}1/artifacts/extra.bin", data=b"late", content_type="application/octet-stream")
    assert late.status_code == 409 and late.json()["error"]["code"] == "immutable"


def test_it_marks_a_failed_upload(ds_owner, model):
    client = api_for(ds_owner)
    client.post(URL, {}, format="json")
    failed = client.post(f"{URL}1/finalize/", {"status": "failed", "message": "CI job died"}, format="json").json()
    assert failed["status"] == "failed" and failed["status_message"] == "CI job died"


def test_it_records_lineage_at_registration(ds_owner, model, team_credit):
    from registry import services

    dataset = services.dataset_create(user=ds_owner, name="loans", team=team_credit)
    dv = services.datasetversion_create(user=ds_owner, dataset=dataset, version="2024-06", uri="s3://d/loans", row_count=1000)
    run = services.trainingrun_create(user=ds_owner, team=team_credit, external_id="mlflow-run-9", commit="abcdef1")
    base = make_version(ds_owner, model)
    response = api_for(ds_owner).post(
        URL, {"trained_on": [dv.pk], "training_run": run.external_id, "parents": [{"model": "credit-scorer", "version": base.version, "relation": "retrain"}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["trained_on"][0]["dataset"] == "loans" and body["training_run"] == "mlflow-run-9"
    assert body["parents"] == [{"model": "credit-scorer", "version": 1, "relation": "retrain"}]


def test_it_refuses_lineage_that_cites_another_teams_records(ds_owner, outsider, model, team_fraud):
    from registry import services

    dataset = services.dataset_create(user=outsider, name="cards", team=team_fraud)
    dv = services.datasetversion_create(user=outsider, dataset=dataset, version="1")
    response = api_for(ds_owner).post(URL, {"trained_on": [dv.pk]}, format="json")
    assert response.status_code == 400 and "trained_on" in response.json()["error"]["fields"]
    assert not ModelVersion.objects.exists()


def test_service_keeps_numbers_gap_free_when_a_registration_fails(ds_owner, model):
    from modelgate.core.errors import ApplicationError
    from registry import services

    make_version(ds_owner, model)
    with pytest.raises(ApplicationError):
        services.modelversion_register(user=ds_owner, registered_model=model, metrics={"auc": float("nan")})
    assert make_version(ds_owner, model).version == 2


def test_it_refuses_a_reused_idempotency_key_with_different_content(ds_owner, model):
    client = api_for(ds_owner)
    assert client.post(URL, FULL, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    # Editing the mutable description in between does not make a retry different.
    client.patch(f"{URL}1/", {"description": "edited"}, format="json")
    assert client.post(URL, FULL, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 200
    other = client.post(URL, {**FULL, "metrics": {"auc": 0.5}}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert "metrics" in other.json()["error"]["fields"]
    assert ModelVersion.objects.count() == 1


def test_it_refuses_a_training_run_of_another_team(ds_owner, outsider, model, team_fraud):
    from registry import services

    services.trainingrun_create(user=outsider, team=team_fraud, external_id="their-run")
    response = api_for(ds_owner).post(URL, {"training_run": "their-run"}, format="json")
    assert response.status_code == 400 and "training_run" in response.json()["error"]["fields"]
    assert not ModelVersion.objects.exists()

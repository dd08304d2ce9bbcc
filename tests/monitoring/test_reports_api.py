"""Reports API and services: permissions, validation, reuse, query counts,
inline runs of the real computation, model cards, what-if, gates."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from governance.gates import evaluate_gate
from modelgate.core.models import AuditEvent, Job, JobStatus
from monitoring.choices import ReportKind, ReportStatus
from monitoring.models import EvaluationDataset, ModelCard, Report
from monitoring.services import reports as services
from registry.choices import ArtifactKind
from registry.models import Artifact
from tests.conftest import api_for, assert_page_loads_plotly
from tests.monitoring.conftest import add_artifact, make_version
from tests.monitoring.reports_data import FEATURES, credit_frame, to_csv, train_lightgbm

URL = "/api/v1/"


def _attach_payload(**extra):
    frame = credit_frame(300, seed=2)
    body = {
        "model": "credit-lgbm", "version": 1, "name": "holdout", "feature_columns": json.dumps(FEATURES), "label_column": "approved",
        "sensitive_columns": "gender,age_band", "file": SimpleUploadedFile("holdout.csv", to_csv(frame), content_type="text/csv"),
    }
    body.update(extra)
    return body


@pytest.fixture
def version(ds_owner, team_credit):
    v = make_version(team=team_credit, name="credit-lgbm", user=ds_owner)
    _, data = train_lightgbm(credit_frame(800, seed=0), rounds=20)
    add_artifact(v, "model/model.txt", data)
    return v


@pytest.fixture
def dataset(version, ds_owner):
    frame = credit_frame(600, seed=3)
    return services.evaluationdataset_attach(
        user=ds_owner, version=version, name="holdout", feature_columns=FEATURES, label_column="approved",
        sensitive_columns=["gender", "age_band"], chunks=iter([to_csv(frame)]),
        reference_chunks=iter([to_csv(credit_frame(600, seed=4))]),
    )


def test_it_attaches_an_uploaded_dataset_as_a_hashed_artifact(version, ds_owner):
    response = api_for(ds_owner).post(URL + "evaluation-datasets/", _attach_payload(), format="multipart")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["feature_columns"] == FEATURES and body["sensitive_columns"] == ["gender", "age_band"]
    artifact = Artifact.objects.get(version=version, path="evaluation/holdout/data.csv")
    assert artifact.kind == ArtifactKind.DATASET and body["sha256"] == artifact.blob_id
    assert AuditEvent.objects.filter(action="monitoring.dataset.attach", object_id=str(body["id"])).exists()


def test_it_keeps_what_the_favourable_label_means_and_refuses_a_novel(version, ds_owner):
    client = api_for(ds_owner)
    long = client.post(URL + "evaluation-datasets/", _attach_payload(positive_label="0", positive_label_meaning="r" * 201), format="multipart")
    assert long.status_code == 400 and "positive_label_meaning" in long.json()["error"]["fields"]
    assert not EvaluationDataset.objects.exists()

    response = client.post(URL + "evaluation-datasets/", _attach_payload(positive_label="0", positive_label_meaning="repays"), format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["positive_label_meaning"] == "repays"
    event = AuditEvent.objects.get(action="monitoring.dataset.attach")
    assert "repays" in json.dumps(event.changes)


def test_it_refuses_features_outside_the_input_schema_and_writes_nothing(version, ds_owner):
    payload = _attach_payload(feature_columns=json.dumps([*FEATURES, "shoe_size"]))
    response = api_for(ds_owner).post(URL + "evaluation-datasets/", payload, format="multipart")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "schema_mismatch" and "shoe_size" in error["message"]
    assert "feature_columns" in error["fields"]
    assert not EvaluationDataset.objects.exists()
    assert not Artifact.objects.filter(kind=ArtifactKind.DATASET).exists()


def test_it_hides_another_teams_versions_datasets_and_reports(version, dataset, outsider, ds_owner):
    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT)
    client = api_for(outsider)

    assert client.post(URL + "evaluation-datasets/", _attach_payload(), format="multipart").status_code == 404
    assert client.get(f"{URL}evaluation-datasets/{dataset.pk}/").status_code == 404
    assert client.get(f"{URL}reports/{report.pk}/").status_code == 404
    assert client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "drift"}, format="json").status_code == 404
    assert client.get(URL + "reports/").json()["results"] == []


def test_it_lets_reviewers_read_reports_but_not_request_them(version, dataset, auditor, risk, ds_owner):
    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT)
    for reviewer in (auditor, risk):
        client = api_for(reviewer)
        assert client.get(f"{URL}reports/{report.pk}/").status_code == 200
        assert client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "fairness"}, format="json").status_code == 403


def test_it_queues_a_report_on_commit_and_reuses_it_for_the_same_inputs(version, dataset, mle_teammate, django_capture_on_commit_callbacks):
    client = api_for(mle_teammate)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "fairness", "parameters": {"min_ratio": 0.8}}, format="json")
    again = client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "fairness", "parameters": {"min_ratio": 0.8}}, format="json")
    other_seed = client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "fairness", "parameters": {"min_ratio": 0.8}, "seed": 7}, format="json")

    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert len(callbacks) == 1
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other_seed.status_code == 202 and other_seed.json()["id"] != first.json()["id"]
    report = Report.objects.get(pk=first.json()["id"])
    assert report.job.kind == "monitoring.fairness" and report.inputs["dataset"]["sha256"] == dataset.artifact.blob_id
    assert AuditEvent.objects.filter(action="monitoring.report.request", object_id=str(report.pk)).exists()


def test_it_names_bad_report_requests(version, dataset, ds_owner):
    client = api_for(ds_owner)
    bad_kind = client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "vibes"}, format="json")
    unknown = client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "drift", "parameters": {"psi_fial": 0.3}}, format="json")
    dataset.reference_artifact = None
    dataset.save()
    no_reference = client.post(URL + "reports/", {"dataset": dataset.pk, "kind": "drift"}, format="json")

    assert bad_kind.status_code == 400 and "kind" in bad_kind.json()["error"]["fields"]
    assert unknown.status_code == 400 and "parameters.psi_fial" in unknown.json()["error"]["fields"]
    assert no_reference.status_code == 400 and no_reference.json()["error"]["code"] == "no_reference"
    assert Report.objects.count() == 0


@pytest.mark.parametrize("rows", [5, 500])
def test_it_lists_reports_in_a_fixed_number_of_queries(version, dataset, ds_owner, rows, django_assert_num_queries):
    Report.objects.bulk_create([
        Report(kind=ReportKind.DRIFT, version=version, dataset=dataset, fingerprint=f"{i:064x}", status=ReportStatus.SUCCEEDED, results={"big": "x" * 100})
        for i in range(rows)
    ])
    client = api_for(ds_owner)
    client.get(URL + "reports/?limit=500")  # warm the token's last-used touch
    # 1 token (with its user; roles and permissions come from the cache),
    # then the page of reports (job, version, model, dataset joined; the team restriction is a
    # subquery inside it)
    with django_assert_num_queries(2):
        response = client.get(URL + "reports/?limit=500")
    assert response.status_code == 200 and len(response.json()["results"]) == rows


@pytest.mark.django_db(transaction=True)
def test_it_computes_fairness_drift_and_explainability_inline_and_renders_them(team_credit, ds_owner, run_jobs_inline, client):
    frame = credit_frame(1200, seed=5, biased=True)
    version = make_version(team=team_credit, name="credit-biased", user=ds_owner)
    _, data = train_lightgbm(frame, rounds=20)
    add_artifact(version, "model/model.txt", data)
    dataset = services.evaluationdataset_attach(
        user=ds_owner, version=version, name="eval", feature_columns=FEATURES, label_column="approved", sensitive_columns=["gender"],
        chunks=iter([to_csv(credit_frame(1000, seed=6, biased=True))]), reference_chunks=iter([to_csv(frame)]),
    )
    api = api_for(ds_owner)
    ids = {}
    for kind in ("fairness", "drift", "explainability"):
        response = api.post(URL + "reports/", {"dataset": dataset.pk, "kind": kind, "parameters": {"sample_size": 200} if kind == "explainability" else {}}, format="json")
        assert response.status_code == 202, response.json()
        ids[kind] = response.json()["id"]

    fairness = api.get(f"{URL}reports/{ids['fairness']}/").json()
    assert fairness["status"] == "succeeded" and fairness["progress"] == 100, fairness
    assert fairness["verdict"] == "fail"
    assert fairness["results"]["metric_definitions"]["equalized_odds_difference"].startswith("max(TPR difference")
    assert fairness["library_versions"]["scipy"]
    explainability = api.get(f"{URL}reports/{ids['explainability']}/").json()
    assert explainability["status"] == "succeeded", explainability
    assert explainability["results"]["global_importance"][0]["feature"] in FEATURES
    assert explainability["sample_sizes"]["explained_rows"] == 200
    figures = api.get(f"{URL}reports/{ids['explainability']}/figures/").json()
    assert {"importance", "beeswarm"} <= set(figures) and figures["importance"]["data"][0]["type"] == "bar"
    assert api.get(f"{URL}reports/{ids['drift']}/").json()["status"] == "succeeded"

    gate = evaluate_gate("fairness_report_passes", version, {"min_ratio": 0.8})
    assert gate.passed is False and "gender=" in gate.message and gate.evidence["report_id"] == ids["fairness"]
    assert evaluate_gate("explainability_report_exists", version, {}).passed is True

    client.force_login(ds_owner)
    page = client.get(f"/monitoring/reports/{ids['explainability']}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-plotly-figure="fig-0"' in html and 'id="fig-0" type="application/json"' in html
    assert 'data-testid="explained-output"' in html and explainability["results"]["explained_output"]["meaning"] == "P(approved = 1)"
    assert "<script>" not in html
    assert_page_loads_plotly(client, html)


def test_it_shows_another_teams_report_page_as_404(version, dataset, ds_owner, outsider, client):
    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT)
    client.force_login(outsider)
    assert client.get(f"/monitoring/reports/{report.pk}/").status_code == 404
    client.force_login(ds_owner)
    assert client.get(f"/monitoring/reports/{report.pk}/").status_code == 200


def test_it_passes_the_fairness_gate_with_review_when_only_a_small_group_lags(version, dataset, ds_owner):
    def group(name, n, rate):
        return {"group": name, "metrics": {"count": n, "selection_rate": rate, "intervals": {"selection_rate": [0, 1]}}}

    Report.objects.create(
        kind=ReportKind.FAIRNESS, version=version, dataset=dataset, fingerprint="f" * 64, status=ReportStatus.SUCCEEDED,
        results={"parameters": {"min_group_n": 100}, "groupings": [{"sensitive_features": ["g"], "groups": [group("g=a", 900, 0.5), group("g=b", 800, 0.45), group("g=c", 51, 0.2)]}]},
    )
    result = evaluate_gate("fairness_report_passes", version, {"min_ratio": 0.8})
    assert result.passed is True and result.needs_review is True and result.evidence["review_groups"] == ["g=c"]
    strict = evaluate_gate("fairness_report_passes", version, {"min_ratio": 0.95})
    assert strict.passed is False and strict.evidence["failing_groups"] == ["g=b"]


def test_it_fails_gates_without_reports(version):
    assert evaluate_gate("fairness_report_passes", version, {}).passed is False
    assert evaluate_gate("explainability_report_exists", version, {}).passed is False


def test_it_reads_and_then_records_a_report_failed_when_its_job_died(version, dataset, ds_owner):
    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT)
    Job.objects.filter(pk=report.job_id).update(status=JobStatus.FAILED, error="The worker stopped while running this job.")

    body = api_for(ds_owner).get(f"{URL}reports/{report.pk}/").json()
    assert body["status"] == "failed" and "worker stopped" in body["error"]
    assert services.reports_reconcile() == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and "worker stopped" in report.error
    # A failed report does not block a new request with the same inputs.
    again, created = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT)
    assert created and again.pk != report.pk


def test_it_keeps_stored_reports_immutable(version, dataset, ds_owner):
    from modelgate.core.errors import ConflictError

    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT)
    services.report_complete(report_id=report.pk, results={"a": 1}, figures={}, timings={}, sample_sizes={}, library_versions={})
    with pytest.raises(ConflictError):
        services.report_complete(report_id=report.pk, results={"a": 2}, figures={}, timings={}, sample_sizes={}, library_versions={})
    assert services.report_fail(report_id=report.pk, error="late") is False
    report.refresh_from_db()
    assert report.results == {"a": 1} and report.status == ReportStatus.SUCCEEDED


def test_it_generates_edits_and_exports_a_model_card(version, dataset, ds_owner, auditor):
    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.FAIRNESS)
    services.report_complete(report_id=report.pk, library_versions={}, figures={}, timings={}, sample_sizes={}, results={
        "groupings": [{"sensitive_features": ["gender"], "disparities": {"demographic_parity_difference": 0.05},
                       "groups": [{"group": "gender=female", "metrics": {"selection_rate": 0.4, "intervals": {"selection_rate": [0.35, 0.45]}}}]}],
    })
    client = api_for(ds_owner)
    generated = client.post(f"{URL}model-cards/{version.pk}/generate/")
    assert generated.status_code == 200, generated.json()
    card = generated.json()["card"]
    assert card["model_details"]["name"] == "credit-lgbm" and card["model_details"]["version"]["name"] == "1"
    slices = {(m["type"], m["slice"]): m for m in card["quantitative_analysis"]["performance_metrics"]}
    assert slices[("selection_rate", "gender=female")]["confidence_interval"] == {"lower_bound": "0.35", "upper_bound": "0.45"}
    assert generated.json()["source_report_ids"] == [report.pk]

    edit = client.patch(f"{URL}model-cards/{version.pk}/", {"authored": {"considerations": {"limitations": [{"description": "Not for small-business loans."}]}}}, format="json")
    assert edit.status_code == 200
    assert edit.json()["card"]["considerations"]["limitations"] == [{"description": "Not for small-business loans."}]
    bad = client.patch(f"{URL}model-cards/{version.pk}/", {"authored": {"quantitative_analysis": {"x": 1}}}, format="json")
    assert bad.status_code == 400 and "authored.quantitative_analysis" in bad.json()["error"]["fields"]
    # Regenerating keeps what a person wrote.
    client.post(f"{URL}model-cards/{version.pk}/generate/")
    assert ModelCard.objects.get(version=version).authored["considerations"]["limitations"]

    html = api_for(auditor).get(f"{URL}model-cards/{version.pk}/html/")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert "Not for small-business loans." in html.content.decode()
    assert api_for(auditor).patch(f"{URL}model-cards/{version.pk}/", {"authored": {}}, format="json").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_it_answers_what_if_through_a_short_job(team_credit, ds_owner, run_jobs_inline):
    version = make_version(team=team_credit, name="credit-whatif", user=ds_owner)
    booster, data = train_lightgbm(credit_frame(800, seed=0), rounds=20)
    add_artifact(version, "model/model.txt", data)
    frame = credit_frame(200, seed=9)
    with transaction.atomic():
        dataset = services.evaluationdataset_attach(user=ds_owner, version=version, name="eval", feature_columns=FEATURES, label_column="approved", chunks=iter([to_csv(frame)]))

    response = api_for(ds_owner).post(f"{URL}evaluation-datasets/{dataset.pk}/what-if/", {"row_index": 3, "changes": {"income": 90.0}}, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()["result"]
    row = frame[FEATURES].iloc[[3]].copy()
    expected_before = booster.predict(row)[0]
    row["income"] = 90.0
    assert result["original"]["prediction"] == pytest.approx(expected_before)
    assert result["changed"]["prediction"] == pytest.approx(booster.predict(row)[0])
    bad = api_for(ds_owner).post(f"{URL}evaluation-datasets/{dataset.pk}/what-if/", {"row_index": 3, "changes": {"shoe": 1}}, format="json")
    assert bad.status_code == 400 and "changes" in bad.json()["error"]["fields"]


def test_it_applies_per_model_report_defaults_under_the_request_parameters(version, dataset, ds_owner):
    model = version.registered_model
    model.tags = {services.MODEL_DEFAULTS_TAG: json.dumps({"drift": {"psi_fail": 0.3, "p_value": 0.01}})}
    model.save(update_fields=["tags"])

    report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind=ReportKind.DRIFT, parameters={"p_value": 0.02})

    assert report.parameters == {"psi_fail": 0.3, "p_value": 0.02}

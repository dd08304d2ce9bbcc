"""Reports computed by a real Celery worker over Redis, checked against direct
calls of shap, fairlearn and scipy on the same data."""

import os
import signal

import numpy as np
import pytest
from django.db import transaction

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus
from monitoring.choices import ReportStatus
from monitoring.models import Report
from monitoring.services import reports as services
from registry.choices import Framework
from tests.conftest import wait_for
from tests.monitoring.conftest import add_artifact, make_version
from tests.monitoring.reports_data import (
    FEATURES,
    credit_frame,
    pickled,
    to_csv,
    train_lightgbm,
    train_sklearn,
    train_sklearn_forest,
)

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("celery-worker"), pytest.mark.django_db(transaction=True)]


def _version_with(team, user, name, framework, path, data):
    version = make_version(team=team, name=name, framework=framework, user=user)
    add_artifact(version, path, data)
    return version


def _attach(user, version, frame, *, reference=None, sensitive=("gender", "age_band"), features=FEATURES):
    with transaction.atomic():
        return services.evaluationdataset_attach(
            user=user, version=version, name="eval", feature_columns=list(features), label_column="approved",
            sensitive_columns=list(sensitive), chunks=iter([to_csv(frame)]),
            reference_chunks=iter([to_csv(reference)]) if reference is not None else None,
        )


def _request(user, version, dataset, kind, parameters=None) -> Report:
    with transaction.atomic():
        report, created = services.report_request(user=user, version=version, dataset=dataset, kind=kind, parameters=parameters or {})
    assert created
    return report


def _finished(report, timeout=120) -> Report:
    # The handler stores the report's outcome, then the job runner closes the Job a
    # moment later (its own write): wait for both, or the job may still read "running".
    def done():
        current = Report.objects.select_related("job").get(pk=report.pk)
        return current.is_finished and current.job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(done, timeout=timeout, interval=0.3)
    report = Report.objects.select_related("job").get(pk=report.pk)
    assert report.is_finished, f"report {report.kind} still {report.status} (job {report.job.status}, {report.job.progress}%)"
    return report


@pytest.mark.parametrize("flavour", ["lightgbm", "sklearn"])
def test_it_computes_all_three_reports_in_a_real_worker_matching_the_libraries(flavour, celery_worker_process, team_credit, ds_owner):
    import shap
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference, selection_rate
    from scipy import stats

    train = credit_frame(1500, seed=0)
    if flavour == "lightgbm":
        model, data = train_lightgbm(train, rounds=30)
        version = _version_with(team_credit, ds_owner, "credit-lgbm", Framework.LIGHTGBM, "model/model.txt", data)
        scores = lambda X: model.predict(X[FEATURES])  # noqa: E731
    else:
        model, data = train_sklearn(train)
        version = _version_with(team_credit, ds_owner, "credit-hgb", Framework.SKLEARN, "model/model.skops", data)
        scores = lambda X: model.predict_proba(X[FEATURES])[:, 1]  # noqa: E731
    current = credit_frame(600, seed=1)
    reference = credit_frame(600, seed=2, shift=0.5)
    dataset = _attach(ds_owner, version, current, reference=reference)

    explained = _request(ds_owner, version, dataset, "explainability", {"sample_size": 1000, "explain_rows": [0, 7]})
    fair = _request(ds_owner, version, dataset, "fairness")
    drifted = _request(ds_owner, version, dataset, "drift")
    explained, fair, drifted = _finished(explained), _finished(fair), _finished(drifted)
    for report in (explained, fair, drifted):
        assert report.status == ReportStatus.SUCCEEDED, report.error
        assert report.job.status == JobStatus.SUCCEEDED and report.job.progress == 100
        assert report.library_versions["shap"] == shap.__version__
        assert report.timings["total"] > 0

    # Explainability: every row explained, so the oracle is one direct TreeExplainer call.
    direct = shap.TreeExplainer(model).shap_values(current[FEATURES])
    direct = np.asarray(direct[1] if isinstance(direct, list) else direct)
    importance = {item["feature"]: item["mean_abs_shap"] for item in explained.results["global_importance"]}
    for j, feature in enumerate(FEATURES):
        assert importance[feature] == pytest.approx(np.abs(direct[:, j]).mean(), abs=1e-9)
    waterfall = {w["row"]: w for w in explained.results["waterfalls"]}
    for contribution in waterfall[7]["contributions"]:
        assert contribution["shap"] == pytest.approx(direct[7, FEATURES.index(contribution["feature"])], abs=1e-9)
    assert waterfall[7]["prediction"] == pytest.approx(scores(current.iloc[[7]])[0], abs=1e-9)
    assert explained.sample_sizes["explained_rows"] == 600
    assert {"importance", "beeswarm", f"dependence-{explained.results['top_features'][0]}"} <= set(explained.figures)

    # Fairness: fairlearn's MetricFrame and disparity functions on the model's own predictions.
    y_pred = (scores(current) >= 0.5).astype(int)
    y_true = current["approved"].to_numpy()
    sensitive = current[["gender", "age_band"]]
    intersection = fair.results["groupings"][-1]
    oracle = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive).by_group
    ours = {tuple(g["values"].values()): g["metrics"]["selection_rate"] for g in intersection["groups"]}
    assert ours == pytest.approx({k: float(v) for k, v in oracle.items()}, abs=1e-9)
    assert intersection["disparities"]["demographic_parity_difference"] == pytest.approx(demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive), abs=1e-9)
    assert intersection["disparities"]["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y_true, y_pred, sensitive_features=sensitive), abs=1e-9)

    # Drift: 600 rows a side → KS for numeric features; scipy directly on the same columns.
    by = {f["feature"]: f for f in drifted.results["features"]}
    for feature in ("income", "debt_ratio", "tenure"):
        assert by[feature]["test"] == "ks"
        assert by[feature]["p_value"] == pytest.approx(stats.ks_2samp(reference[feature], current[feature]).pvalue, rel=1e-9)
    assert by["income"]["drifted"] is True and by["debt_ratio"]["drifted"] is False


def test_it_fails_a_biased_model_on_the_four_fifths_rule_and_passes_an_unbiased_one(celery_worker_process, team_credit, ds_owner):
    verdicts = {}
    for name, biased in (("credit-biased", True), ("credit-fair", False)):
        train = credit_frame(2000, seed=10, biased=biased)
        _, data = train_lightgbm(train, rounds=30)
        version = _version_with(team_credit, ds_owner, name, Framework.LIGHTGBM, "model/model.txt", data)
        dataset = _attach(ds_owner, version, credit_frame(2000, seed=11, biased=biased), sensitive=("gender",))
        report = _finished(_request(ds_owner, version, dataset, "fairness"))
        assert report.status == ReportStatus.SUCCEEDED, report.error
        verdicts[name] = (report.verdict, report.results["groupings"][0]["four_fifths"])

    assert verdicts["credit-biased"][0] == "fail" and verdicts["credit-biased"][1]["failing_groups"]
    assert verdicts["credit-fair"][0] == "pass" and verdicts["credit-fair"][1]["lowest_eligible_ratio"] >= 0.8


def test_it_fails_reports_with_a_clear_message_for_bad_inputs(celery_worker_process, team_credit, ds_owner, settings):
    train = credit_frame(600, seed=0)
    _, lgb = train_lightgbm(train, rounds=10)
    sk, _ = train_sklearn(train)
    cases = {
        "schema": (_version_with(team_credit, ds_owner, "credit-schema", Framework.LIGHTGBM, "model/model.txt", lgb), "missing from the file: tenure"),
        "corrupt": (_version_with(team_credit, ds_owner, "credit-corrupt", Framework.LIGHTGBM, "model/model.txt", b"tree\nversion=v4\ngarbage"),
                    "model/model.txt: the model file could not be read as a lightgbm model"),
        "pickle": (_version_with(team_credit, ds_owner, "credit-pickle", Framework.SKLEARN, "model/model.joblib", pickled(sk)),
                   "MODELGATE_ALLOW_PICKLE is false"),
    }
    reports = {}
    for case, (version, _) in cases.items():
        frame = credit_frame(300, seed=3)
        if case == "schema":
            frame = frame.drop(columns=["tenure"])
        reports[case] = _request(ds_owner, version, _attach(ds_owner, version, frame), "explainability")
    for case, report in reports.items():
        report = _finished(report)
        assert report.status == ReportStatus.FAILED
        assert cases[case][1] in report.error, report.error
        assert "Traceback" not in report.error
        assert report.job.status == JobStatus.FAILED and cases[case][1] in report.job.error


# --- chunked explanations across the worker's processes --------------------------


def _serial(report: Report) -> dict:
    """The same report computed in this process in one piece: the reference for the chunked run."""
    from monitoring.report_tasks import _prepare
    from monitoring.reports.explain import explainability_report

    report = Report.objects.select_related("dataset__artifact__blob", "version").get(pk=report.pk)
    _, df, model, label = _prepare(report)  # reads the stored artifacts as the worker does
    return explainability_report(model, df, label=label, params=report.parameters, seed=report.seed, chunk_rows=10**9, progress=lambda p: None)


def _assert_values_equal_serial(report: Report) -> None:
    serial = _serial(report)["results"]
    assert report.results["global_importance"] == serial["global_importance"]  # exact, not approximate
    assert report.results["waterfalls"] == serial["waterfalls"]
    assert report.results["base_value"] == serial["base_value"]


def _forest_report(team, user, name, rows=400) -> Report:
    _, data = train_sklearn_forest(credit_frame(2000, seed=0))
    version = _version_with(team, user, name, Framework.SKLEARN, "model/model.skops", data)
    dataset = _attach(user, version, credit_frame(rows, seed=1), sensitive=("gender",))
    return _request(user, version, dataset, "explainability", {"sample_size": rows, "explain_rows": [3]})


def _chunks(report: Report):
    return list(Job.objects.filter(parent_id=report.job_id).order_by("chunk_index"))


def test_it_spreads_an_explanations_chunks_over_the_prefork_processes_with_the_serial_values(celery_worker_process, team_credit, ds_owner):
    from tests.conftest import WORKER_CHUNK_ROWS

    report = _finished(_forest_report(team_credit, ds_owner, "credit-spread"))
    assert report.status == ReportStatus.SUCCEEDED, report.error
    chunks = _chunks(report)
    assert len(chunks) == 400 // WORKER_CHUNK_ROWS and all(c.status == JobStatus.SUCCEEDED and c.attempts == 1 for c in chunks)
    workers = {c.result["worker"] for c in chunks}
    assert len(workers) >= 2, workers  # more than one pool process took chunks…
    assert str(celery_worker_process.pid) not in {w.rsplit(":", 1)[1] for w in workers}  # …none of them the main process
    assert report.results["explainer"]["worker_processes"] == len(workers)
    assert 1 <= report.timings["chunks_model_loads"] <= len(workers)  # the model is read once per process, not per chunk
    assert report.results["explainer"]["chunks"] == len(chunks)
    assert report.job.chunks_done == len(chunks) and report.job.progress == 100
    _assert_values_equal_serial(report)


def test_it_runs_again_only_the_chunk_whose_pool_process_was_killed(celery_worker_process, team_credit, ds_owner):
    report = _forest_report(team_credit, ds_owner, "credit-killed-child")
    running = wait_for(lambda: Job.objects.filter(parent_id=report.job_id, status=JobStatus.RUNNING).first(), timeout=120, interval=0.05)
    assert running, "no chunk started"
    pid = int(running.worker.rsplit(":", 1)[1])
    assert pid != celery_worker_process.pid
    os.kill(pid, signal.SIGKILL)  # one pool child dies mid-chunk (as the OOM killer would do)

    report = _finished(report)
    assert report.status == ReportStatus.SUCCEEDED, report.error
    assert celery_worker_process.poll() is None  # the worker itself lives on
    attempts = {c.chunk_index: c.attempts for c in _chunks(report)}
    # That chunk ran again… (its killed run counts unless the kill came between claim and start)
    assert attempts[running.chunk_index] >= running.attempts + 1
    assert all(n == 1 for i, n in attempts.items() if i != running.chunk_index), attempts  # …and only it
    again = Job.objects.get(pk=running.pk)
    assert again.result["worker"] != running.worker  # in another (new) pool process
    _assert_values_equal_serial(report)


def test_it_requeues_the_chunks_of_a_lost_worker_node_through_the_sweeper(_celery_worker_holder, celery_worker_process, team_credit, ds_owner, settings):
    from tests.conftest import start_celery_worker

    report = _forest_report(team_credit, ds_owner, "credit-node-lost")
    started = wait_for(lambda: Job.objects.filter(parent_id=report.job_id, status=JobStatus.RUNNING).exists(), timeout=120, interval=0.05)
    assert started, "no chunk started"
    os.killpg(celery_worker_process.pid, signal.SIGKILL)  # the whole node: main process and pool children
    celery_worker_process.wait(timeout=20)
    assert Report.objects.get(pk=report.pk).status == ReportStatus.RUNNING  # nobody has noticed yet
    # Chunk → runs begun when the node died. A chunk claimed a moment before the kill may not have
    # begun its run yet (the runner counts an attempt as the handler starts): then 0.
    lost = dict(Job.objects.filter(parent_id=report.job_id, status=JobStatus.RUNNING).values_list("pk", "attempts"))
    assert lost

    # Without a sweep the broker would hand the unacknowledged chunks out again only after its
    # visibility timeout (an hour); the sweeper re-queues chunks running past the time limit.
    settings.JOB_STALE_CHUNK_SECONDS = 0  # here: at once
    outcome = jobs.sweep()
    assert outcome["requeued_chunks"] == len(lost) and outcome["failed_stuck"] == 0
    assert Job.objects.get(pk=report.job_id).status == JobStatus.RUNNING  # the parent waits on, not failed
    _celery_worker_holder.proc = start_celery_worker()  # a replacement node (its start empties the test queue…)
    settings.JOB_DISPATCH_GRACE_SECONDS = 0
    settings.JOB_STALE_CHUNK_SECONDS = 3600
    jobs.sweep()  # …so the sweeper's next round dispatches the queued chunks again

    report = _finished(report)
    assert report.status == ReportStatus.SUCCEEDED, report.error
    attempts = {c.chunk_index: (c.attempts, lost.get(c.pk)) for c in _chunks(report)}
    # Each lost chunk ran again after the loss (a duplicate delivery may add a try; the claim keeps
    # it from running twice at once).
    assert all(after > before for after, before in attempts.values() if before is not None), attempts
    services.reports_reconcile()  # nothing to reconcile: the report ended by itself
    report.refresh_from_db()
    assert report.status == ReportStatus.SUCCEEDED
    _assert_values_equal_serial(report)

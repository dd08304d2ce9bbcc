"""Explanations as chunk jobs on the embedded default (no broker: tasks run in-process).

The same code paths run in a real prefork worker in ``test_reports_worker.py``; here the
chunks run one after another in this process, and failures are staged between the plan
and the chunks by holding the chunks' dispatch (``django_capture_on_commit_callbacks``).
"""

import os

import pytest
from django.db import transaction

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus
from monitoring.choices import ReportStatus
from monitoring.models import Report
from monitoring.report_tasks import _prepare
from monitoring.reports.explain import explainability_report
from monitoring.services import reports as services
from registry import storage
from registry.choices import Framework
from registry.models import ArtifactBlob
from tests.monitoring.conftest import add_artifact, make_version
from tests.monitoring.reports_data import FEATURES, credit_frame, to_csv, train_sklearn


def _version_and_dataset(team, user, name: str, rows: int = 300):
    _, data = train_sklearn(credit_frame(600, seed=0))
    version = make_version(team=team, name=name, framework=Framework.SKLEARN, user=user)
    add_artifact(version, "model/model.skops", data)
    with transaction.atomic():
        dataset = services.evaluationdataset_attach(
            user=user, version=version, name="eval", feature_columns=FEATURES, label_column="approved",
            chunks=iter([to_csv(credit_frame(rows, seed=1))]),
        )
    return version, dataset


def _serial_results(report: Report) -> dict:
    report = Report.objects.select_related("dataset__artifact__blob", "version").get(pk=report.pk)
    _, df, model, label = _prepare(report)
    return explainability_report(model, df, label=label, params=report.parameters, seed=report.seed, chunk_rows=10**9, progress=lambda p: None)["results"]


@pytest.mark.django_db(transaction=True)
def test_it_runs_an_explanations_chunks_in_process_one_after_another_with_the_serial_values(team_credit, ds_owner, run_jobs_inline, settings):
    settings.REPORT_EXPLAIN_CHUNK_ROWS = 70
    version, dataset = _version_and_dataset(team_credit, ds_owner, "credit-embedded")
    with transaction.atomic():
        report, _ = services.report_request(user=ds_owner, version=version, dataset=dataset, kind="explainability",
                                            parameters={"sample_size": 300, "explain_rows": [5]})

    report = Report.objects.select_related("job").get(pk=report.pk)
    assert report.status == ReportStatus.SUCCEEDED, report.error
    chunks = list(Job.objects.filter(parent=report.job).order_by("chunk_index"))
    assert [c.params["rows"] for c in chunks] == [70, 70, 70, 70, 20]
    assert all(c.status == JobStatus.SUCCEEDED and c.attempts == 1 for c in chunks)
    assert all(a.finished_at <= b.started_at for a, b in zip(chunks, chunks[1:], strict=False))  # one after another
    assert len({c.result["worker"] for c in chunks}) == 1 and str(os.getpid()) in chunks[0].result["worker"]  # this process
    assert report.job.status == JobStatus.SUCCEEDED and report.job.progress == 100 and report.job.chunks_done == 5
    assert report.results["explainer"]["chunks"] == 5 and report.results["explainer"]["worker_processes"] == 1
    serial = _serial_results(report)
    assert report.results["global_importance"] == serial["global_importance"]  # exactly equal
    assert report.results["waterfalls"] == serial["waterfalls"] and report.results["base_value"] == serial["base_value"]
    assert report.sample_sizes["explained_rows"] == 300
    assert report.timings["chunks_shap_values"] > 0
    assert report.timings["chunks_model_loads"] <= 1  # read once per process (none if a previous test left it cached)
    from tests.portal.conftest import client_for

    page = client_for(ds_owner).get(f"/monitoring/reports/{report.pk}/").content.decode()
    assert "Computed in 5 chunks of up to 70 rows by 1 worker process." in page


def _planned_report(user, version, dataset, callbacks_capture) -> tuple[Report, list]:
    """Request a report and run its plan in-process; return it with the chunks' dispatch held back."""
    with callbacks_capture(execute=False) as request_callbacks:
        report, _ = services.report_request(user=user, version=version, dataset=dataset, kind="explainability", parameters={"sample_size": 300})
    with callbacks_capture(execute=False) as plan_callbacks:
        for callback in request_callbacks:
            callback()  # dispatch → the plan runs (tasks are eager) → the chunks' dispatch is captured
    report.refresh_from_db()
    assert Job.objects.filter(parent_id=report.job_id).count() == 3
    return report, plan_callbacks


def test_it_fails_the_report_naming_the_chunk_whose_rows_are_gone(team_credit, ds_owner, run_jobs_inline, settings, django_capture_on_commit_callbacks):
    settings.REPORT_EXPLAIN_CHUNK_ROWS = 100
    version, dataset = _version_and_dataset(team_credit, ds_owner, "credit-gone")
    report, dispatch_chunks = _planned_report(ds_owner, version, dataset, django_capture_on_commit_callbacks)
    second = Job.objects.get(parent_id=report.job_id, chunk_index=1)
    ArtifactBlob.objects.filter(sha256=second.params["rows_sha256"]).delete()  # e.g. collected as garbage

    with django_capture_on_commit_callbacks(execute=False):
        for callback in dispatch_chunks:
            callback()

    report.refresh_from_db()
    parent = Job.objects.get(pk=report.job_id)
    assert report.status == ReportStatus.FAILED and "chunk's rows" in report.error and "no longer in the artifact store" in report.error
    assert parent.status == JobStatus.FAILED and parent.error.startswith("Chunk 2 of 3 failed")
    states = dict(parent.chunks.values_list("chunk_index", "status"))
    assert states == {0: JobStatus.SUCCEEDED, 1: JobStatus.FAILED, 2: JobStatus.FAILED}


def test_it_retries_a_chunk_the_store_cannot_read_then_reconciles_the_report(team_credit, ds_owner, run_jobs_inline, settings, django_capture_on_commit_callbacks):
    settings.REPORT_EXPLAIN_CHUNK_ROWS = 100
    version, dataset = _version_and_dataset(team_credit, ds_owner, "credit-unreadable")
    report, dispatch_chunks = _planned_report(ds_owner, version, dataset, django_capture_on_commit_callbacks)
    first = Job.objects.get(parent_id=report.job_id, chunk_index=0)
    blob = ArtifactBlob.objects.get(sha256=first.params["rows_sha256"])
    storage.artifact_store().delete(blob.storage_name)  # the store does not answer for this file

    with django_capture_on_commit_callbacks(execute=False):
        for callback in dispatch_chunks:
            callback()

    first.refresh_from_db()
    assert first.status == JobStatus.FAILED and first.attempts == 4  # tried, then retried three times (eager: at once)
    assert "Gave up after 4 attempts: The artifact store could not give the chunk's rows" in first.error
    assert Report.objects.get(pk=report.pk).status == ReportStatus.RUNNING  # a transient error does not end the report…
    assert services.reports_reconcile() == 1  # …its failed job does, on the next reconcile
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and "Chunk 1 of 3 failed" in report.error


def test_it_reconciles_a_report_whose_chunk_the_sweeper_gave_up_on(team_credit, ds_owner, run_jobs_inline, settings, django_capture_on_commit_callbacks):
    from django.utils import timezone

    settings.REPORT_EXPLAIN_CHUNK_ROWS = 100
    version, dataset = _version_and_dataset(team_credit, ds_owner, "credit-swept")
    report, _ = _planned_report(ds_owner, version, dataset, django_capture_on_commit_callbacks)  # chunks never dispatched
    old = timezone.now() - timezone.timedelta(hours=3)
    Job.objects.filter(parent_id=report.job_id, chunk_index=0).update(
        status=JobStatus.RUNNING, started_at=old, attempts=settings.JOB_CHUNK_MAX_ATTEMPTS, dispatched_at=old,
    )
    settings.JOB_DISPATCH_GRACE_SECONDS = 3600

    outcome = jobs.sweep()

    assert outcome["failed_chunks"] == 1 and outcome["failed_stuck"] == 0
    assert services.reports_reconcile() == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert "Chunk 1 of 3 failed: The worker stopped while running this chunk, 3 times." in report.error
    assert set(Job.objects.filter(parent_id=report.job_id).values_list("status", flat=True)) == {JobStatus.FAILED}

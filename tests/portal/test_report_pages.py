"""Reports on the version page: request one, poll its progress, see its charts."""

from monitoring.models import Report
from tests.portal.conftest import attach_fairness_dataset, client_for, make_model

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_it_requests_a_fairness_report_and_polls_until_it_shows_charts(
    ds_owner, team_credit, run_jobs_inline, django_capture_on_commit_callbacks
):
    model, (mv,) = make_model(ds_owner, team_credit)
    dataset = attach_fairness_dataset(ds_owner, mv)
    client = client_for(ds_owner)
    page = client.get(f"/registry/models/{model.name}/versions/1/").content.decode()
    assert 'id="report-form"' in page and "holdout-2026q3" in page and "No fairness report yet" in page

    with django_capture_on_commit_callbacks(execute=True):  # the job is dispatched on commit, run in-process
        response = client.post(f"/registry/models/{model.name}/versions/1/reports/", {"kind": "fairness", "dataset": dataset.pk}, **HTMX)
    assert response.status_code == 200
    report = Report.objects.get(version=mv, kind="fairness")
    progress_url = f"/registry/models/{model.name}/versions/1/reports/{report.pk}/progress/"
    polled = client.get(progress_url, **HTMX).content.decode()
    # run inline: already finished, so the partial stops polling and carries the charts
    assert 'data-status="succeeded"' in polled and "100%" in polled and "hx-trigger" not in polled
    assert "data-plotly-figure" in polled and 'type="application/json"' in polled
    page = client.get(f"/registry/models/{model.name}/versions/1/").content.decode()
    assert f"/monitoring/reports/{report.pk}/" in page and "vendor/plotly/plotly-finance.min.js" in page


def test_it_keeps_polling_while_the_report_is_queued(ds_owner, team_credit, django_capture_on_commit_callbacks):
    model, (mv,) = make_model(ds_owner, team_credit)
    dataset = attach_fairness_dataset(ds_owner, mv)
    client = client_for(ds_owner)
    # on-commit callbacks are captured, not run: the job stays queued
    with django_capture_on_commit_callbacks(execute=False):
        html = client.post(f"/registry/models/{model.name}/versions/1/reports/", {"kind": "fairness", "dataset": dataset.pk}, **HTMX).content.decode()
    assert 'data-status="queued"' in html and 'hx-trigger="every 1s"' in html and "0%" in html
    assert "Fairness report #" in html and "queued" in html


def test_it_refuses_reports_to_readers_and_other_teams(ds_owner, team_credit, auditor, outsider):
    model, (mv,) = make_model(ds_owner, team_credit)
    dataset = attach_fairness_dataset(ds_owner, mv)
    html = client_for(auditor).get(f"/registry/models/{model.name}/versions/1/").content.decode()
    assert 'id="report-form"' not in html and 'role="tablist"' in html
    url = f"/registry/models/{model.name}/versions/1/reports/"
    assert client_for(auditor).post(url, {"kind": "fairness", "dataset": dataset.pk}).status_code == 403
    assert client_for(outsider).post(url, {"kind": "fairness", "dataset": dataset.pk}).status_code == 404
    assert not Report.objects.exists()


def test_it_runs_a_what_if_on_one_row_and_shows_both_predictions(ds_owner, team_credit, run_jobs_inline, django_capture_on_commit_callbacks):
    from monitoring.services import reports as report_services
    from tests.monitoring.reports_data import FEATURES, INPUT_SCHEMA, credit_frame, to_csv, train_sklearn

    df = credit_frame(300)
    _, model_bytes = train_sklearn(df)
    model, (mv,) = make_model(ds_owner, team_credit, "whatif-model", artifact=model_bytes, input_schema=INPUT_SCHEMA)
    dataset = report_services.evaluationdataset_attach(
        user=ds_owner, version=mv, name="holdout", feature_columns=FEATURES, label_column="approved", chunks=[to_csv(df)]
    )
    client = client_for(ds_owner)
    page = client.get(f"/registry/models/{model.name}/versions/1/").content.decode()
    assert "What-if on one row of holdout" in page and 'name="change__income"' in page

    url = f"/registry/models/{model.name}/versions/1/what-if/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"dataset": dataset.pk, "row_index": "3", "change__income": "90"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-status="' in html
    from modelgate.core.models import Job

    job = Job.objects.get(kind="monitoring.what_if")
    polled = client.get(f"{url}{job.pk}/", **HTMX).content.decode()
    assert 'data-status="succeeded"' in polled and 'id="whatif-table"' in polled and "<strong>income</strong>" in polled
    assert "hx-trigger" not in polled
    # another user cannot read the job, even a teammate
    from tests.factories import UserFactory

    teammate = UserFactory(username="tess", roles=["data_scientist"], teams=[team_credit])
    assert client_for(teammate).get(f"{url}{job.pk}/").status_code == 404


def test_it_refuses_a_what_if_without_changes_with_the_reason(ds_owner, team_credit):
    model, (mv,) = make_model(ds_owner, team_credit)
    dataset = attach_fairness_dataset(ds_owner, mv)
    response = client_for(ds_owner).post(f"/registry/models/{model.name}/versions/1/what-if/", {"dataset": dataset.pk, "row_index": "0"}, **HTMX)
    assert response.status_code == 400 and "changes" in response.content.decode()

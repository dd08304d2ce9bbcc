"""Reports on the version page: request one, poll its progress, see its charts."""

import html as html_lib
import re

import pytest

from monitoring.models import Report
from tests.conftest import assert_page_loads_plotly
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
    assert f"/monitoring/reports/{report.pk}/" in page
    assert_page_loads_plotly(client, page)


def test_it_keeps_polling_while_the_report_is_queued(ds_owner, team_credit, django_capture_on_commit_callbacks):
    model, (mv,) = make_model(ds_owner, team_credit)
    dataset = attach_fairness_dataset(ds_owner, mv)
    client = client_for(ds_owner)
    # on-commit callbacks are captured, not run: the job stays queued
    with django_capture_on_commit_callbacks(execute=False):
        html = client.post(f"/registry/models/{model.name}/versions/1/reports/", {"kind": "fairness", "dataset": dataset.pk}, **HTMX).content.decode()
    assert 'data-status="queued"' in html and 'hx-trigger="every 1s"' in html and "0%" in html
    assert "Fairness report #" in html and "queued" in html


def test_it_counts_the_chunks_of_an_explanation_while_they_run_then_says_it_merges(ds_owner, team_credit, django_capture_on_commit_callbacks):
    from modelgate.core.models import Job, JobStatus

    model, (mv,) = make_model(ds_owner, team_credit)
    dataset = attach_fairness_dataset(ds_owner, mv)
    client = client_for(ds_owner)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/registry/models/{model.name}/versions/1/reports/", {"kind": "explainability", "dataset": dataset.pk}, **HTMX)
    report = Report.objects.get(version=mv, kind="explainability")
    progress_url = f"/registry/models/{model.name}/versions/1/reports/{report.pk}/progress/"
    assert "chunks" not in client.get(progress_url, **HTMX).content.decode()  # queued, not planned yet
    # The plan fanned out into 5 chunks; workers have finished 2 of them.
    Job.objects.filter(pk=report.job_id).update(status=JobStatus.RUNNING, chunks_total=5, chunks_done=2, progress=33)
    polled = client.get(progress_url, **HTMX).content.decode()
    assert "2 of 5 chunks done, spread over the worker processes." in polled and "33%" in polled and 'hx-trigger="every 1s"' in polled
    Job.objects.filter(pk=report.job_id).update(chunks_done=5, progress=83)
    assert "All 5 chunks done; merging them." in client.get(progress_url, **HTMX).content.decode()


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
    # The prediction and SHAP values are named as the output the version publishes (OUTPUT_SCHEMA), of the positive class.
    assert '<span data-testid="whatif-output">default_probability = P(approved = 1)</span>' in polled
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


def credit_csv() -> bytes:
    """Predicted defaults by gender: men repay (default = 0) 70 %, women 40 %, a 30-row group 10 %."""
    lines = ["income,age_band,existing_loans,gender,default,pred_default"]
    for gender, n, repay in (("male", 500, 350), ("female", 500, 200), ("other", 30, 3)):
        for i in range(n):
            lines.append(f"{1000 + i * 7},{['18-25', '26-40', '41+'][i % 3]},{i % 4},{gender},{i % 2},{0 if i < repay else 1}")
    return ("\n".join(lines) + "\n").encode()


def _credit_reports(user, mv, kinds):
    from monitoring.services import reports as report_services

    dataset = report_services.evaluationdataset_attach(
        user=user, version=mv, name="holdout", feature_columns=["income", "age_band", "existing_loans"], label_column="default",
        prediction_column="pred_default", sensitive_columns=["gender"], positive_label=0, positive_label_meaning="repays",
        chunks=[credit_csv()], reference_chunks=[credit_csv()[:8000]],
    )
    return {kind: report_services.report_request(user=user, version=mv, dataset=dataset, kind=kind)[0] for kind in kinds}


def test_it_explains_a_fairness_report_in_words(ds_owner, team_credit, run_jobs_inline, django_capture_on_commit_callbacks):
    model, (mv,) = make_model(ds_owner, team_credit)
    with django_capture_on_commit_callbacks(execute=True):
        report = _credit_reports(ds_owner, mv, ["fairness"])["fairness"]
    report.refresh_from_db()
    assert report.status == "succeeded" and report.verdict == "fail"
    html = client_for(ds_owner).get(f"/monitoring/reports/{report.pk}/").content.decode()

    # The favourable outcome is named above the tables, in every table's caption and beside every chart.
    favourable = "selected = predicted default = 0, i.e. repays"
    assert f"Favourable outcome: <strong>{favourable}</strong>" in html
    assert f"<caption>gender: {favourable}</caption>" in html
    assert report.results["favourable_outcome"]["text"] == favourable
    # Failing and needs-review groups are marked, with the reason in words, under the four-fifths line.
    rows = dict((name, status) for status, name in re.findall(r'<tr class="row-(\w+)" data-status="\w+"><th scope="row">([^<]+)</th>', html))
    assert rows == {"gender=female": "fail", "gender=male": "pass", "gender=other": "needs_review"}
    assert "fails: ratio 0.571 &lt; 0.8" in html and "Four-fifths line: 0.8 × 0.700 = <strong>0.560</strong>" in html
    # Chart headings in words, not figure ids; the chart itself carries the line and the colours.
    assert '<h3 id="chart-selection-0-title">Selection rate by gender: four-fifths rule fails</h3>' in html
    assert ">selection-0<" not in html
    figure = report.figures["selection-0"]
    assert figure["layout"]["shapes"][0]["x0"] == pytest.approx(0.56) and favourable in figure["layout"]["title"]["text"]


def test_it_says_which_check_decided_each_drift_verdict(ds_owner, team_credit, run_jobs_inline, django_capture_on_commit_callbacks):
    model, (mv,) = make_model(ds_owner, team_credit)
    with django_capture_on_commit_callbacks(execute=True):
        report = _credit_reports(ds_owner, mv, ["drift"])["drift"]
    report.refresh_from_db()
    html = client_for(ds_owner).get(f"/monitoring/reports/{report.pk}/").content.decode()
    decided = re.findall(r'<td data-check="(\w+)">([^<]+)</td>', html)
    assert len(decided) == 3, decided  # income, age_band, existing_loans
    for row, (check, text) in zip(report.results["features"], decided, strict=True):
        text = html_lib.unescape(text)
        assert check == row["decided_by"]["check"] and text == row["decided_by"]["text"]
        # The verdict, the check that decided it and that check's threshold, in one sentence.
        verdict = {"fail": "fails", "warn": "warns", "pass": "passes"}[row["verdict"]]
        threshold = row["threshold"] if check == row["test"] else report.results["parameters"]["psi_fail" if row["verdict"] == "fail" else "psi_warn"]
        assert text.startswith(f"{verdict}: ") and f"{threshold:g}" in text.split("(")[0], text
        assert row["decided_by"]["text"] in report.figures[f"hist-{row['feature']}"]["layout"]["title"]["text"]


def test_it_reaches_every_chart_of_a_report_from_the_version_tab(ds_owner, team_credit, run_jobs_inline, django_capture_on_commit_callbacks):
    model, (mv,) = make_model(ds_owner, team_credit)
    with django_capture_on_commit_callbacks(execute=True):
        reports = _credit_reports(ds_owner, mv, ["fairness", "drift"])
    client = client_for(ds_owner)
    page = client.get(f"/registry/models/{model.name}/versions/1/").content.decode()
    for kind, report in reports.items():
        report.refresh_from_db()
        panel = page.split(f'id="panel-{kind}"')[1].split('role="tabpanel"')[0]
        drawn = re.findall(r'data-plotly-figure="(fig-[\w-]+)"', panel)
        linked = re.findall(rf'href="/monitoring/reports/{report.pk}/#(chart-[\w-]+)"', panel)
        assert len(drawn) == min(2, len(report.figures)) and len(drawn) + len(linked) == len(report.figures), (kind, drawn, linked)
        report_page = client.get(f"/monitoring/reports/{report.pk}/").content.decode()
        for anchor in linked:
            assert f'<section class="figure" id="{anchor}"' in report_page
    # The drift tab draws the PSI overview first.
    drift_panel = page.split('id="panel-drift"')[1]
    assert drift_panel.index("PSI per feature, coloured by each feature") < drift_panel.index("More charts in")

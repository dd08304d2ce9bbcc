"""In a real browser: a data scientist requests a fairness report, watches its
progress reach 100 % (HTMX polling the job record) and sees a plotly chart."""

import pytest
from playwright.sync_api import expect

from monitoring.models import Report
from tests.portal.conftest import attach_fairness_dataset, make_model
from tests.portal.test_browser_approver import login

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


def test_it_lets_a_data_scientist_request_a_fairness_report_and_see_its_chart(
    page, live_server, plain_http_cookies, ds_owner, team_credit, run_jobs_inline
):
    # run_jobs_inline: the job runs in the live server's process when its transaction commits
    # (the embedded default); the worker path is covered by monitoring's worker tests.
    model, (mv,) = make_model(ds_owner, team_credit)
    attach_fairness_dataset(ds_owner, mv)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    login(page, live_server, "dana")
    page.goto(f"{live_server.url}/registry/models/{model.name}/versions/1/")
    page.get_by_label("Kind of report").select_option("fairness")
    page.get_by_role("button", name="Request report").click()

    job = page.locator("#report-progress .progress-wrap")
    expect(job).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(job.locator(".progress-value")).to_have_text("100%")
    expect(job.locator("progress")).to_have_attribute("value", "100")
    # plotly.js (served locally) drew the chart: its SVG is in the DOM
    expect(job.locator("[data-plotly-figure] svg.main-svg").first).to_be_visible(timeout=15_000)
    expect(page.locator("#messages")).to_contain_text("queued")
    report = Report.objects.get(version=mv, kind="fairness")
    assert report.status == "succeeded"
    assert errors == []


@pytest.mark.worker
@pytest.mark.xdist_group("celery-worker")
def test_it_polls_a_report_computed_by_a_real_worker_until_it_is_done(
    page, live_server, plain_http_cookies, ds_owner, team_credit, celery_worker_process
):
    """The same journey with a real Celery worker over Redis: the page first shows the job
    queued (or running), then HTMX polling brings it to 100 % and the chart."""
    model, (mv,) = make_model(ds_owner, team_credit)
    attach_fairness_dataset(ds_owner, mv)
    statuses = []
    page.on("response", lambda r: statuses.append(r.headers.get("x-report-status")) if "/reports/" in r.url else None)

    login(page, live_server, "dana")
    page.goto(f"{live_server.url}/registry/models/{model.name}/versions/1/")
    page.get_by_label("Kind of report").select_option("fairness")
    page.get_by_role("button", name="Request report").click()
    job = page.locator("#report-progress .progress-wrap")
    expect(job).to_have_attribute("data-status", "succeeded", timeout=90_000)
    expect(job.locator(".progress-value")).to_have_text("100%")
    expect(job.locator("[data-plotly-figure] svg.main-svg").first).to_be_visible(timeout=15_000)
    # the first answer was an unfinished job, and the page polled until it finished
    assert statuses[0] in ("queued", "running") and statuses[-1] == "succeeded" and len(statuses) >= 2, statuses

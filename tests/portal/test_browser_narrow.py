"""In a real browser at a phone's width (390 px): the main menu folds behind a button, and no
portal page is wider than the viewport (tables scroll inside their own box, charts fit)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from governance.models import Deployment
from monitoring.services import reports as report_services
from monitoring.telemetry import services as telemetry
from tests.monitoring.reports_data import FEATURES, INPUT_SCHEMA, credit_frame, to_csv, train_sklearn_linear
from tests.portal.conftest import fairness_csv, make_model, walk_to_prod_request
from tests.portal.test_browser_approver import login
from tests.telemetry.fixtures import make_deployment
from tests.telemetry.helpers import base_minute, post_minute

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

WIDTH = 390


@pytest.fixture
def world(ds_owner, mle_teammate, team_credit, auditor, run_jobs_inline):
    """One page of every portal page type: a version with fairness and drift reports and a model card, an
    explainability report, a pending Prod request, a deployment with telemetry and an open alert, a canary split."""
    model, mv, req = walk_to_prod_request(ds_owner, mle_teammate, team_credit)
    dataset = report_services.evaluationdataset_attach(
        user=ds_owner, version=mv, name="holdout", feature_columns=["income", "age_band", "existing_loans"], label_column="approved",
        prediction_column="pred", sensitive_columns=["gender"], chunks=[fairness_csv()], reference_chunks=[fairness_csv(300)],
    )
    report, _ = report_services.report_request(user=ds_owner, version=mv, dataset=dataset, kind="fairness")
    drift, _ = report_services.report_request(user=ds_owner, version=mv, dataset=dataset, kind="drift")
    # An explainability report needs a real model: a small logistic regression.
    frame = credit_frame(300)
    _, model_bytes = train_sklearn_linear(frame)
    _, (explained_mv,) = make_model(ds_owner, team_credit, "explained-model", artifact=model_bytes, input_schema=INPUT_SCHEMA)
    explained_data = report_services.evaluationdataset_attach(
        user=ds_owner, version=explained_mv, name="holdout", feature_columns=FEATURES, label_column="approved", chunks=[to_csv(frame)],
    )
    explained, _ = report_services.report_request(user=ds_owner, version=explained_mv, dataset=explained_data, kind="explainability",
                                                  parameters={"sample_size": 50, "background_size": 30})
    report_services.modelcard_generate(user=ds_owner, version=mv)
    deployment = Deployment.objects.filter(registered_model=model, environment__slug="uat").get()
    telemetry.sla_rule_create(user=ds_owner, deployment=deployment, name="slow", metric="latency_p95", threshold=50,
                              window_minutes=1, for_count=1)
    t = base_minute(20)
    post_minute(ds_owner, deployment, t, latency_ms=400)
    telemetry.evaluate_rules(now=t + timedelta(minutes=1))
    canary = make_deployment(team_credit, "pricing", versions=((3, 80), (4, 20)))
    return {
        "dana": [
            "/", "/registry/models/", f"/registry/models/{model.name}/", f"/registry/models/{model.name}/versions/{mv.version}/",
            f"/monitoring/reports/{report.pk}/", f"/monitoring/reports/{drift.pk}/", f"/monitoring/reports/{explained.pk}/", f"/monitoring/model-cards/{mv.pk}/", "/governance/requests/",
            f"/governance/requests/{req.pk}/", "/monitoring/sla/", f"/monitoring/sla/deployments/{deployment.pk}/",
            f"/monitoring/sla/deployments/{canary.pk}/canary/", "/monitoring/sla/alerts/", "/registry/no-such-page/",
        ],
        "audrey": ["/governance/audit/"],
    }


def overflow(page) -> dict:
    """How far the page is wider than the viewport, after scrolling through it so every chart draws."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height + 800, 800):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    page.wait_for_function("() => !document.querySelector('[data-plotly-figure]:not([data-drawn=\"1\"])') "
                           "|| Array.from(document.querySelectorAll('[data-plotly-figure]')).every(el => el.offsetParent === null || el.dataset.drawn === '1')")
    return page.evaluate("({scroll: document.documentElement.scrollWidth, viewport: window.innerWidth})")


def test_it_folds_the_menu_and_fits_every_page_at_390_px(browser, live_server, plain_http_cookies, world):
    context = browser.new_context(viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/accounts/login/")
    assert overflow(page) == {"scroll": WIDTH, "viewport": WIDTH}, "/accounts/login/"
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert overflow(page)["scroll"] == WIDTH, "/api/docs/"

    for username, paths in world.items():
        context.clear_cookies()
        login(page, live_server, username)
        for path in paths:
            page.goto(live_server.url + path)
            # The menu is folded: its links are hidden until the button opens it.
            menu, toggle = page.locator("#main-menu"), page.get_by_role("button", name="Menu")
            expect(toggle).to_be_visible()
            expect(toggle).to_have_attribute("aria-expanded", "false")
            expect(menu).to_be_hidden()
            assert overflow(page)["scroll"] == WIDTH, path
            if path.startswith("/monitoring/reports/"):  # its charts were drawn, and fit too
                assert page.locator('[data-plotly-figure][data-drawn="1"] svg.main-svg').count() >= 1

    # Opening the menu shows every link in a column; Escape folds it again.
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#main-menu").get_by_role("link", name="Audit")).to_be_visible()
    assert overflow(page)["scroll"] == WIDTH
    page.keyboard.press("Escape")
    expect(page.locator("#main-menu")).to_be_hidden()
    assert errors == []
    context.close()


def test_it_keeps_the_menu_open_on_a_wide_screen(page, live_server, plain_http_cookies, ds_owner):
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, live_server, "dana")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.locator("#main-menu").get_by_role("link", name="Models")).to_be_visible()

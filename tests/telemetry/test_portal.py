"""Portal pages: dashboards with plotly figures, Prod overview, canary, alert actions."""

from datetime import timedelta

import pytest

from monitoring.telemetry import services
from monitoring.telemetry.choices import AlertState
from monitoring.telemetry.models import Alert
from tests.conftest import assert_page_loads_plotly
from tests.telemetry.fixtures import make_deployment
from tests.telemetry.helpers import base_minute, post_minute

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerting(ds_owner, deployment):
    services.sla_rule_create(user=ds_owner, deployment=deployment, name="slow", metric="latency_p95", threshold=50,
                             window_minutes=1, for_count=1)
    t = base_minute(20)
    post_minute(ds_owner, deployment, t, latency_ms=400)
    services.evaluate_rules(now=t + timedelta(minutes=1))
    return Alert.objects.get()


def test_it_draws_the_dashboard_with_the_sla_line(client, ds_owner, deployment, alerting):
    client.force_login(ds_owner)
    response = client.get(f"/monitoring/sla/deployments/{deployment.pk}/?range=1h")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-plotly-figure="latency"' in html
    assert_page_loads_plotly(client, html)
    assert "SLA p95 \\u2264 50 ms" in html  # the SLA line, inside the figure's JSON
    assert "<script>" not in html.replace('<script src=', '')  # figures are JSON data, no inline code


def test_it_answers_404_for_another_teams_dashboard(client, outsider, deployment):
    client.force_login(outsider)
    assert client.get(f"/monitoring/sla/deployments/{deployment.pk}/").status_code == 404


def test_it_shows_business_users_the_prod_overview(client, approver, deployment, alerting, team_fraud):
    make_deployment(team_fraud, "quiet-model")
    client.force_login(approver)
    html = client.get("/monitoring/sla/").content.decode()
    assert "scorecard" in html and "quiet-model" in html
    assert "1 alerting" in html and "1 no data in the last hour" in html


def test_it_compares_canary_versions(client, ds_owner, team_credit):
    deployment = make_deployment(team_credit, "pricing", versions=((3, 80), (4, 20)))
    post_minute(ds_owner, deployment, base_minute(10), version=3)
    post_minute(ds_owner, deployment, base_minute(10), version=4, prefix="c")
    client.force_login(ds_owner)
    html = client.get(f"/monitoring/sla/deployments/{deployment.pk}/canary/").content.decode()
    assert "v3" in html and "v4" in html and 'data-plotly-figure="canary-p95"' in html


def test_it_offers_alert_buttons_only_to_the_owning_team(client, ds_owner, approver, alerting):
    client.force_login(approver)
    html = client.get("/monitoring/sla/alerts/").content.decode()
    assert f"alert-{alerting.pk}" in html and "Acknowledge" not in html
    forged = client.post(f"/monitoring/sla/alerts/{alerting.pk}/acknowledge/")
    assert forged.status_code == 403
    alerting.refresh_from_db()
    assert alerting.state == AlertState.OPEN
    client.force_login(ds_owner)
    assert "Acknowledge" in client.get("/monitoring/sla/alerts/").content.decode()
    client.post(f"/monitoring/sla/alerts/{alerting.pk}/acknowledge/", {"comment": "Looking at the canary"})
    client.post(f"/monitoring/sla/alerts/{alerting.pk}/resolve/", {"resolution": "Rolled back"})
    alerting.refresh_from_db()
    assert (alerting.state, alerting.resolved_by) == (AlertState.RESOLVED, ds_owner)

"""SLA rules, alerts, data tests and dashboard endpoints: roles × teams, audit, query counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from modelgate.core.models import AuditEvent
from monitoring.telemetry import services
from monitoring.telemetry.choices import AlertState
from monitoring.telemetry.models import Alert, DataTestResult, SlaRule
from tests.conftest import api_for
from tests.telemetry.fixtures import make_deployment
from tests.telemetry.helpers import base_minute, post_minute

pytestmark = pytest.mark.django_db
RULES = "/api/v1/telemetry/sla-rules/"
ALERTS = "/api/v1/telemetry/alerts/"


def _rule_body(deployment, **extra):
    return {"deployment": deployment.pk, "name": "p99 ≤ 250 ms", "metric": "latency_p99", "threshold": 250,
            "window_minutes": 10, "for_count": 3, "severity": "critical", "runbook_url": "https://runbooks.example/p99", **extra}


def test_it_creates_a_rule_for_the_owning_team_with_an_audit_event(ds_owner, mle_teammate, deployment):
    response = api_for(ds_owner).post(RULES, _rule_body(deployment, owner="mel"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["owner"], body["state"], body["condition"]) == ("mel", "inactive", "latency_p99 > 250")
    event = AuditEvent.objects.get(action="telemetry.sla_rule.create")
    assert (event.team_slug, event.model_name, event.actor_username) == ("credit", "scorecard", "dana")


def test_it_hides_another_teams_deployment_and_rules(ds_owner, outsider, deployment):
    rule = services.sla_rule_create(user=ds_owner, deployment=deployment, name="r", metric="error_rate", threshold=0.01)
    client = api_for(outsider)
    assert client.post(RULES, _rule_body(deployment), format="json").status_code == 404
    assert client.get(f"{RULES}{rule.pk}/").status_code == 404
    assert client.patch(f"{RULES}{rule.pk}/", {"threshold": 0.5}, format="json").status_code == 404
    assert client.get(RULES).json()["results"] == []
    assert client.get(f"/api/v1/telemetry/deployments/{deployment.pk}/dashboard/").status_code == 404


def test_it_lets_readers_see_but_not_write(approver, auditor, ds_owner, deployment):
    rule = services.sla_rule_create(user=ds_owner, deployment=deployment, name="r", metric="error_rate", threshold=0.01)
    for reader in (approver, auditor):
        client = api_for(reader)
        assert client.get(f"{RULES}{rule.pk}/").status_code == 200
        assert client.post(RULES, _rule_body(deployment), format="json").status_code == 403
        assert client.delete(f"{RULES}{rule.pk}/").status_code == 403
    assert SlaRule.objects.count() == 1


def test_it_names_the_bad_field_of_a_rule(ds_owner, deployment):
    response = api_for(ds_owner).post(RULES, _rule_body(deployment, metric="error_rate", threshold=3), format="json")
    assert response.status_code == 400
    assert "threshold" in response.json()["error"]["fields"]


def test_it_edits_and_deletes_a_rule(ds_owner, deployment):
    client = api_for(ds_owner)
    rule_id = client.post(RULES, _rule_body(deployment), format="json").json()["id"]
    response = client.patch(f"{RULES}{rule_id}/", {"threshold": 300, "for_count": 5}, format="json")
    assert (response.status_code, response.json()["threshold"], response.json()["for_count"]) == (200, 300, 5)
    assert client.delete(f"{RULES}{rule_id}/").status_code == 204
    assert list(AuditEvent.objects.filter(action__startswith="telemetry.sla_rule").values_list("action", flat=True).order_by("id")) == [
        "telemetry.sla_rule.create", "telemetry.sla_rule.update", "telemetry.sla_rule.delete"]


def _firing_alert(user, deployment):
    rule = services.sla_rule_create(user=user, deployment=deployment, name="slow", metric="latency_p95", threshold=50,
                                    window_minutes=1, for_count=1)
    t = base_minute(20)
    post_minute(user, deployment, t, latency_ms=400)
    services.evaluate_rules(now=t + timedelta(minutes=1))
    return Alert.objects.get(rule=rule)


def test_it_walks_an_alert_through_acknowledge_and_resolve(ds_owner, mle_teammate, deployment):
    alert = _firing_alert(ds_owner, deployment)
    client = api_for(mle_teammate)
    acked = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"comment": "looking"}, format="json")
    assert (acked.status_code, acked.json()["state"], acked.json()["acknowledged_by"]) == (200, "acknowledged", "mel")
    assert client.post(f"{ALERTS}{alert.pk}/acknowledge/", {}, format="json").status_code == 409
    missing = client.post(f"{ALERTS}{alert.pk}/resolve/", {}, format="json")
    assert missing.status_code == 400 and "resolution" in missing.json()["error"]["fields"]
    resolved = client.post(f"{ALERTS}{alert.pk}/resolve/", {"resolution": "Scaled out"}, format="json")
    assert (resolved.json()["state"], resolved.json()["resolved_by"]) == ("resolved", "mel")
    assert AuditEvent.objects.filter(action="telemetry.alert.acknowledge", actor_username="mel").exists()


def test_it_refuses_alert_actions_outside_the_team(ds_owner, outsider, approver, deployment):
    alert = _firing_alert(ds_owner, deployment)
    assert api_for(outsider).post(f"{ALERTS}{alert.pk}/acknowledge/", {}, format="json").status_code == 404
    assert api_for(approver).post(f"{ALERTS}{alert.pk}/acknowledge/", {}, format="json").status_code == 403
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_it_runs_data_tests_on_incoming_batches(ds_owner, deployment):
    client = api_for(ds_owner)
    for body in (
        {"field": "income", "kind": "null_rate", "tolerance": 0.1, "severity": "error"},
        {"field": "income", "kind": "range", "min_value": 0, "max_value": 1_000_000},
        {"field": "channel", "kind": "allowed_values", "allowed_values": ["web", "branch"], "tolerance": 0.05},
        {"field": "income", "kind": "type", "value_type": "number"},
    ):
        assert client.post("/api/v1/telemetry/data-tests/", {"deployment": deployment.pk, **body}, format="json").status_code == 201
    t = datetime.now(UTC) - timedelta(minutes=5)
    batch = [{"event_id": f"d{i}", "timestamp": t.isoformat(), "latency_ms": 3,
              "features": {"income": None if i < 2 else (-5 if i == 2 else 50_000), "channel": "phone" if i == 3 else "web"}}
             for i in range(10)]
    result = client.post("/api/v1/telemetry/events/", {"deployment": deployment.pk, "events": batch}, format="json").json()
    outcome = {(r["kind"]): (r["failed"], r["passed"]) for r in result["data_tests"]}
    assert outcome == {"null_rate": (2, False), "range": (1, False), "allowed_values": (1, False), "type": (0, True)}
    assert DataTestResult.objects.count() == 4
    listed = client.get("/api/v1/telemetry/data-tests/").json()["results"]
    assert {r["kind"]: r["last_passed"] for r in listed}["type"] is True


def test_it_serves_dashboard_overview_and_canary_data(ds_owner, approver, team_credit):
    deployment = make_deployment(team_credit, "pricing", versions=((1, 90), (2, 10)))
    services.sla_rule_create(user=ds_owner, deployment=deployment, name="p95", metric="latency_p95", threshold=100)
    t = base_minute(30)
    for k in range(5):
        post_minute(ds_owner, deployment, t + timedelta(minutes=k), version=1, latency_ms=20, prefix="a")
        post_minute(ds_owner, deployment, t + timedelta(minutes=k), n=5, version=2, latency_ms=80, prefix="b")
    services.rollup_pending()
    client = api_for(approver)  # a business user sees every team's service levels
    dashboard = client.get(f"/api/v1/telemetry/deployments/{deployment.pk}/dashboard/?range=1h").json()
    assert sum(p["count"] for p in dashboard["points"]) == 225
    assert dashboard["state"] == "healthy" and dashboard["rules"][0]["name"] == "p95"
    overview = client.get("/api/v1/telemetry/overview/").json()
    assert [(r["model"], r["state"]) for r in overview] == [("pricing", "healthy")]
    canary = client.get(f"/api/v1/telemetry/deployments/{deployment.pk}/canary/").json()
    by_version = {v["version"]: v for v in canary["versions"]}
    assert (by_version[1]["count"], by_version[2]["count"]) == (200, 25)
    assert by_version[2]["p95"] > 3 * by_version[1]["p95"]
    assert client.get(f"/api/v1/telemetry/deployments/{deployment.pk}/dashboard/?range=2y").status_code == 400


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("endpoint", ["rules", "alerts"])
def test_it_lists_with_a_constant_number_of_queries(ds_owner, deployment, endpoint):
    client = api_for(ds_owner)
    now = datetime.now(UTC)

    def grow(n):
        start = SlaRule.objects.count()
        rules = SlaRule.objects.bulk_create([
            SlaRule(deployment=deployment, name=f"rule {start + i}", metric="error_rate", threshold=0.1, owner=ds_owner)
            for i in range(n)])
        if endpoint == "alerts":
            Alert.objects.bulk_create([
                Alert(rule=r, deployment=deployment, severity="warning", summary="x", state=AlertState.RESOLVED,
                      opened_at=now, resolved_by=ds_owner, acknowledged_by=ds_owner) for r in rules])

    url = (RULES if endpoint == "rules" else ALERTS) + "?limit=500"
    client.get(url)  # the first use of a token stamps last_used_at (once a minute); measure after it
    grow(5)
    few, rows_few = _count_queries(client, url)
    grow(495)
    many, rows_many = _count_queries(client, url)
    # 1 token, 2 user + group permissions, 3 role names, 4 the page (team scope as a subquery; deployment,
    # model, environment and users joined in) — the same at 5 and 500 rows
    assert (rows_few, rows_many) == (5, 500)
    assert few == many


def test_it_reads_the_dashboard_in_a_constant_number_of_queries(ds_owner, deployment):
    client = api_for(ds_owner)
    url = f"/api/v1/telemetry/deployments/{deployment.pk}/dashboard/?range=24h"
    now = datetime.now(UTC)

    def grow(n):
        start = SlaRule.objects.count()
        rules = SlaRule.objects.bulk_create([
            SlaRule(deployment=deployment, name=f"rule {start + i}", metric="latency_p95", threshold=100, owner=ds_owner)
            for i in range(n)])
        Alert.objects.bulk_create([Alert(rule=r, deployment=deployment, severity="warning", summary="x", opened_at=now,
                                         acknowledged_by=ds_owner, state=AlertState.ACKNOWLEDGED) for r in rules])

    client.get(url)
    grow(1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    grow(40)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(few.captured_queries) == len(many.captured_queries)

"""A page per alert: its timeline (opened, acknowledged with a required note, resolved),
units on every value, and rule states named for people."""

import pytest
from playwright.sync_api import expect

from modelgate.core.errors import ApplicationError
from monitoring.telemetry import services
from monitoring.telemetry.choices import AlertState, RuleState
from monitoring.telemetry.models import Alert, SlaRule
from tests.portal.conftest import client_for
from tests.telemetry.fixtures import make_deployment


def _alert(team, owner):
    deployment = make_deployment(team, "pricing")
    rule = SlaRule.objects.create(deployment=deployment, name="p95 under 200 ms", metric="latency_p95", threshold=200.0, owner=owner,
                                  state=RuleState.FIRING, runbook="Check the canary; roll back if it is the new version.")
    return Alert.objects.create(rule=rule, deployment=deployment, severity=rule.severity, summary="p95 latency above 200 ms",
                                value_at_open=312.4, last_value=287.0)


@pytest.mark.django_db
def test_it_requires_a_note_to_acknowledge(ds_owner, team_credit):
    alert = _alert(team_credit, ds_owner)
    with pytest.raises(ApplicationError) as refused:
        services.alert_acknowledge(user=ds_owner, alert=alert, comment="   ")
    assert refused.value.status_code == 400 and "comment" in refused.value.fields
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


@pytest.mark.django_db
def test_it_shows_the_timeline_with_units_and_the_rule_state_in_words(ds_owner, approver, team_credit):
    alert = _alert(team_credit, ds_owner)
    client = client_for(ds_owner)
    page = client.get(f"/monitoring/sla/alerts/{alert.pk}/").content.decode()
    assert "Opened" in page and "Latency p95 reached 312 ms; the rule breaches above 200 ms." in page
    assert 'id="last-value">287 ms<' in page and 'id="rule-state">Firing<' in page and "Waiting to be acknowledged." in page
    assert client.post(f"/monitoring/sla/alerts/{alert.pk}/acknowledge/", {"comment": ""}).status_code == 302  # refused, back with a message
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN
    client.post(f"/monitoring/sla/alerts/{alert.pk}/acknowledge/", {"comment": "Rolling back the canary"})
    client.post(f"/monitoring/sla/alerts/{alert.pk}/resolve/", {"resolution": "Canary rolled back, p95 at 41 ms"})
    page = client_for(approver).get(f"/monitoring/sla/alerts/{alert.pk}/").content.decode()
    timeline = page[page.index('id="alert-timeline"'):]
    assert timeline.index('data-step="opened"') < timeline.index('data-step="acknowledged"') < timeline.index('data-step="resolved"')
    assert "“Rolling back the canary”" in timeline and "Canary rolled back, p95 at 41 ms" in timeline and "dana" in timeline
    assert 'id="acknowledge-form"' not in page  # the approver may read, not act


@pytest.mark.django_db
def test_rule_states_read_ok_not_inactive(ds_owner, team_credit):
    alert = _alert(team_credit, ds_owner)
    alert.rule.state = RuleState.INACTIVE
    alert.rule.save()
    assert alert.rule.get_state_display() == "OK"
    html = client_for(ds_owner).get(f"/monitoring/sla/deployments/{alert.deployment_id}/").content.decode()
    assert ">OK<" in html and ">Inactive<" not in html


@pytest.mark.django_db
def test_other_teams_alerts_answer_404(outsider, ds_owner, team_credit):
    alert = _alert(team_credit, ds_owner)
    assert client_for(outsider).get(f"/monitoring/sla/alerts/{alert.pk}/").status_code == 404


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
@pytest.mark.django_db(transaction=True)
def test_an_alert_page_shows_its_timeline_in_a_browser(page, live_server, plain_http_cookies, ds_owner, team_credit):
    from tests.portal.test_browser_approver import login

    alert = _alert(team_credit, ds_owner)
    login(page, live_server, "dana")
    page.goto(f"{live_server.url}/monitoring/sla/alerts/")
    page.get_by_role("link", name=f"#{alert.pk} p95 latency above 200 ms").click()
    expect(page.locator('#alert-timeline li[data-step="opened"]')).to_contain_text("reached 312 ms")
    page.get_by_role("button", name="Acknowledge").click()
    assert page.locator("#ack-comment").evaluate("el => !el.validity.valid")  # the note is required in the browser too
    page.locator("#ack-comment").fill("Looking at the canary")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator('#alert-timeline li[data-step="acknowledged"]')).to_contain_text("“Looking at the canary”")
    expect(page.locator("#alert-state")).to_have_text("Acknowledged")

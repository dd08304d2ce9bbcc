"""The done-when scenarios through a real Celery worker, with the tasks beat schedules."""

from datetime import timedelta

import pytest
from django.conf import settings

from monitoring.telemetry import tasks
from monitoring.telemetry.choices import AlertState, RuleState
from monitoring.telemetry.models import Alert, MinuteBucket, SlaRule
from tests.conftest import api_for, wait_for
from tests.telemetry.fixtures import events, make_deployment
from tests.telemetry.helpers import base_minute


def test_it_schedules_rollups_evaluation_and_retention_with_beat():
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["telemetry.rollup"] == 60.0
    assert schedule["telemetry.evaluate_rules"] == 60.0
    assert "telemetry.retention" in schedule
    from modelgate.celery import app

    app.loader.import_default_modules()
    assert {"telemetry.rollup", "telemetry.evaluate_rules", "telemetry.retention"} <= set(app.tasks)


@pytest.mark.worker
@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_it_alerts_once_and_recovers_through_the_worker(celery_worker_process, team_credit, ds_owner):
    deployment = make_deployment(team_credit, "worker-scorecard")
    rule = SlaRule.objects.create(deployment=deployment, name="p95 ≤ 100 ms", metric="latency_p95", threshold=100,
                                  window_minutes=1, for_count=2, owner=ds_owner)
    client = api_for(ds_owner)
    t0 = base_minute(30)
    plan = [30, 400, 400, 400, 30, 30]  # ms per minute: a regression of three minutes, then recovery
    states = []
    for k, latency in enumerate(plan):
        minute = t0 + timedelta(minutes=k)
        batch = events(30, start=minute, prefix=f"w{k}-", latency_ms=latency, spacing_s=1.5)
        response = client.post("/api/v1/telemetry/events/", {"deployment": deployment.pk, "events": batch}, format="json")
        assert response.status_code == 200
        if k == 2:  # a serving system retrying a batch must not double count
            client.post("/api/v1/telemetry/events/", {"deployment": deployment.pk, "events": batch}, format="json")
        evaluated_at = minute + timedelta(minutes=1)
        tasks.evaluate_rules.delay(now=evaluated_at.isoformat())
        done = SlaRule.objects.filter(pk=rule.pk, last_evaluated_at=evaluated_at)
        assert wait_for(done.exists, timeout=60)
        states.append(SlaRule.objects.get(pk=rule.pk).state)
    assert states == [RuleState.INACTIVE, RuleState.PENDING, RuleState.FIRING, RuleState.FIRING, RuleState.INACTIVE,
                      RuleState.INACTIVE]
    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED and alert.resolved_by is None
    assert sum(MinuteBucket.objects.filter(deployment=deployment, version=0).values_list("count", flat=True)) == 180

"""The demo generator trips the latency alert; the client helper posts batches and reports bad fields."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from modelgate.core.services import token_create
from monitoring.telemetry.choices import AlertState
from monitoring.telemetry.client import TelemetryClient, TelemetryError
from monitoring.telemetry.models import Alert, GroundTruth, PredictionEvent, SlaRule


def _generate_at(now, deployment):
    # The command reads the wall clock; pinning it makes "a later run" a fact of the test, not of timing.
    with mock.patch.object(timezone, "now", return_value=now):
        call_command("generate_telemetry", "--deployment", str(deployment.pk), "--hours", "1.5", "--per-minute", "30",
                     "--user", "dana", stdout=open("/dev/null", "w"))


@pytest.mark.django_db
def test_it_generates_demo_telemetry_whose_regression_opens_one_alert(ds_owner, deployment):
    first_run = timezone.now().replace(second=0, microsecond=0)
    _generate_at(first_run, deployment)
    assert PredictionEvent.objects.filter(deployment=deployment).count() > 1500  # 90 minutes at 30 ± 30 % per minute
    assert GroundTruth.objects.filter(deployment=deployment).exists()
    p95 = SlaRule.objects.get(deployment=deployment, metric="latency_p95")
    assert p95.state == "firing"
    assert list(Alert.objects.values_list("rule__metric", "state")) == [("latency_p95", AlertState.OPEN)]
    # Running it again some minutes later regenerates the overlapping minutes' events under the same ids with
    # the same content: nothing is double counted, labels still match their events, no second alert.
    events_before = dict(PredictionEvent.objects.values_list("event_id", "score"))
    _generate_at(first_run + timedelta(minutes=7), deployment)
    alerts = list(Alert.objects.values_list("rule__name", "state", "summary"))
    assert len(alerts) == 1, alerts
    accuracy = SlaRule.objects.get(deployment=deployment, metric="accuracy")
    assert accuracy.state != "firing"
    events_after = dict(PredictionEvent.objects.values_list("event_id", "score"))
    assert len(events_after) > len(events_before)  # the 7 new minutes
    assert {k: events_after[k] for k in events_before} == events_before


@pytest.mark.django_db(transaction=True)
def test_it_posts_batches_with_the_client_and_raises_on_a_bad_field(live_server, ds_owner, deployment):
    _, token = token_create(user=ds_owner, name="serving")
    now = datetime.now(UTC) - timedelta(minutes=1)
    with TelemetryClient(live_server.url, token=token, deployment=deployment.pk, batch_size=1000) as telemetry:
        for i in range(2500):
            telemetry.record(event_id=f"c{i}", latency_ms=10 + i % 7, prediction=i % 2, score=0.3, timestamp=now)
    assert PredictionEvent.objects.filter(deployment=deployment).count() == 2500
    assert telemetry.post_labels([{"event_id": "c1", "label": 1}])[0]["matched_events"] == 1
    bad = TelemetryClient(live_server.url, token=token, deployment=deployment.pk)
    bad.record(event_id="ok", latency_ms=1, timestamp=now)
    bad.record(event_id="bad", latency_ms=-1, timestamp=now)
    with pytest.raises(TelemetryError) as exc:
        bad.flush()
    assert exc.value.status == 400
    assert exc.value.body["error"]["fields"]["events"][0]["field"] == "latency_ms"
    assert not PredictionEvent.objects.filter(event_id="ok").exists()

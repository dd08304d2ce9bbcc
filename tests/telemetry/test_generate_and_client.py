"""The demo generator trips the latency alert; the client helper posts batches and reports bad fields."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from modelgate.core.services import token_create
from monitoring.telemetry.choices import AlertState
from monitoring.telemetry.client import TelemetryClient, TelemetryError
from monitoring.telemetry.models import Alert, GroundTruth, PredictionEvent, SlaRule


@pytest.mark.django_db
def test_it_generates_demo_telemetry_whose_regression_opens_one_alert(ds_owner, deployment):
    call_command("generate_telemetry", "--deployment", str(deployment.pk), "--hours", "1.5", "--per-minute", "30",
                 "--user", "dana", stdout=open("/dev/null", "w"))
    assert PredictionEvent.objects.filter(deployment=deployment).count() > 1500  # 90 minutes at 30 ± 30 % per minute
    assert GroundTruth.objects.filter(deployment=deployment).exists()
    p95 = SlaRule.objects.get(deployment=deployment, metric="latency_p95")
    assert p95.state == "firing"
    assert list(Alert.objects.values_list("rule__metric", "state")) == [("latency_p95", AlertState.OPEN)]
    # Running it again adds the same events (same ids): nothing is double counted, no second alert.
    before = PredictionEvent.objects.count()
    call_command("generate_telemetry", "--deployment", str(deployment.pk), "--hours", "1.5", "--per-minute", "30",
                 "--user", "dana", stdout=open("/dev/null", "w"))
    alerts = list(Alert.objects.values_list("rule__name", "state", "summary"))
    assert len(alerts) == 1, alerts
    assert PredictionEvent.objects.count() >= before


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

"""Ingestion: all-or-nothing batches naming each bad field, safe retries, rollups."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.telemetry import services
from monitoring.telemetry.models import MinuteBucket, PredictionEvent
from monitoring.telemetry.services import window_summary
from tests.conftest import api_for
from tests.telemetry.fixtures import events

URL = "/api/v1/telemetry/events/"
pytestmark = pytest.mark.django_db


def _minute_ago(minutes=10):
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def test_it_stores_a_batch_and_rolls_it_up(ds_owner, deployment):
    start = _minute_ago()
    batch = events(120, start=start, latency_ms=30.0) + events(
        30, start=start, prefix="x", latency_ms=300.0, status="error", prediction=1
    )
    response = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "events": batch}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["stored"] == 150
    services.rollup_pending()
    summary = window_summary(deployment.pk, start, start + timedelta(minutes=5))
    assert summary.count == 150
    assert summary.errors == 30
    # Log-spaced buckets (growth 2^(1/4)): a percentile lies in the bucket of the true value.
    assert 25 < summary.p(0.5) < 36
    assert 250 < summary.p(0.99) < 357
    assert MinuteBucket.objects.filter(deployment=deployment).count() == 4  # two minutes × (v1 + all versions)


def test_it_rejects_the_whole_batch_naming_the_bad_event_and_field(ds_owner, deployment):
    batch = events(50, start=_minute_ago())
    batch[37]["latency_ms"] = "fast"
    response = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "events": batch}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid_batch"
    assert body["fields"]["events"] == [{"index": 37, "field": "latency_ms", "message": body["fields"]["events"][0]["message"]}]
    assert "events[37].latency_ms" in body["message"]
    assert PredictionEvent.objects.count() == 0


def test_it_ignores_a_resent_batch(ds_owner, deployment):
    start = _minute_ago()
    batch = events(200, start=start)
    client = api_for(ds_owner)
    first = client.post(URL, {"deployment": deployment.pk, "events": batch}, format="json").json()
    services.rollup_pending()
    again = client.post(URL, {"deployment": deployment.pk, "events": batch}, format="json").json()
    services.rollup_pending()
    assert (first["stored"], again["stored"], again["duplicates"]) == (200, 0, 200)
    assert PredictionEvent.objects.count() == 200
    assert window_summary(deployment.pk, start - timedelta(hours=1), start + timedelta(hours=1)).count == 200


def test_it_counts_a_duplicate_inside_one_batch_once(ds_owner, deployment):
    batch = events(10, start=_minute_ago())
    batch.append(dict(batch[0]))
    body = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "events": batch}, format="json").json()
    assert (body["stored"], body["duplicates"]) == (10, 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("timestamp", "2026-01-01T00:00:00"), ("status", "meh"), ("score", 1.5), ("event_id", ""), ("version", 7),
     ("features", [1, 2]), ("surprise", 1)],
)
def test_it_names_each_kind_of_bad_field(ds_owner, deployment, field, value):
    batch = events(3, start=_minute_ago())
    batch[1][field] = value
    response = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "events": batch}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["events"][0] == {
        "index": 1, "field": field, "message": response.json()["error"]["fields"]["events"][0]["message"]
    }


def test_it_refuses_more_than_ten_thousand_events(ds_owner, deployment):
    batch = events(10_001, start=_minute_ago(200), spacing_s=0.01)
    response = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "events": batch}, format="json")
    assert response.status_code == 413
    assert PredictionEvent.objects.count() == 0


def test_it_answers_404_for_another_teams_deployment(outsider, deployment):
    response = api_for(outsider).post(URL, {"deployment": deployment.pk, "events": events(2, start=_minute_ago())},
                                      format="json")
    assert response.status_code == 404
    assert PredictionEvent.objects.count() == 0


def test_it_refuses_readers_who_may_not_post(approver, deployment):
    response = api_for(approver).post(URL, {"deployment": deployment.pk, "events": events(2, start=_minute_ago())},
                                      format="json")
    assert response.status_code == 403


def test_it_requires_a_token(client, deployment):
    response = client.post(URL, {"deployment": deployment.pk, "events": []}, content_type="application/json")
    assert response.status_code in (401, 403)

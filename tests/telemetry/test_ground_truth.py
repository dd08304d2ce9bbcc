"""Quality with delayed labels: realised metrics once ground truth arrives, label lag, rules on quality."""

from datetime import timedelta

import pytest

from monitoring.telemetry import selectors, services
from monitoring.telemetry.choices import RuleState
from monitoring.telemetry.models import GroundTruth
from monitoring.telemetry.services import window_summary
from tests.conftest import api_for
from tests.telemetry.helpers import base_minute, post_minute

URL = "/api/v1/telemetry/ground-truth/"
pytestmark = pytest.mark.django_db


def _scored_minute(user, deployment, minute, n=20):
    batch = [
        {"event_id": f"q{minute:%H%M}-{i}", "timestamp": (minute + timedelta(seconds=i)).isoformat(), "latency_ms": 12.0,
         "prediction": 1 if i % 2 else 0, "score": 0.9 if i % 2 else 0.1}
        for i in range(n)
    ]
    services.events_ingest(user=user, events=batch, deployment=deployment.pk)
    return batch


def test_it_updates_the_quality_metric_when_labels_arrive_late(ds_owner, deployment):
    rule = services.sla_rule_create(user=ds_owner, deployment=deployment, name="accuracy ≥ 0.9", metric="accuracy",
                                    threshold=0.9, window_minutes=120, for_count=1, min_events=10)
    t = base_minute(60)
    batch = _scored_minute(ds_owner, deployment, t)
    services.evaluate_rules(now=t + timedelta(minutes=1))
    rule.refresh_from_db()
    assert rule.last_value is None and rule.state == RuleState.INACTIVE  # no labels yet: nothing to judge
    # An hour later the outcomes come in: 16 of 20 predictions were right.
    labels = [{"event_id": ev["event_id"], "label": ev["prediction"] if i < 16 else 1 - ev["prediction"]}
              for i, ev in enumerate(batch)]
    response = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "labels": labels}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 20, "stored": 20, "duplicates": 0, "matched_events": 20}
    services.evaluate_rules(now=t + timedelta(minutes=61))
    rule.refresh_from_db()
    assert rule.last_value == pytest.approx(0.8)
    assert rule.state == RuleState.FIRING
    summary = window_summary(deployment.pk, t, t + timedelta(minutes=1))
    assert (summary.labeled, summary.correct) == (20, 16)
    assert summary.auc is not None and summary.mean_label_lag > 0
    points = selectors.series(deployment, "6h")
    assert [p["accuracy"] for p in points if p["labeled"]] == [pytest.approx(0.8)]


def test_it_joins_a_label_that_arrives_before_its_event(ds_owner, deployment):
    t = base_minute(30)
    api_for(ds_owner).post(URL, {"deployment": deployment.pk, "labels": [{"event_id": "early-1", "label": 1}]}, format="json")
    services.events_ingest(user=ds_owner, deployment=deployment.pk, events=[
        {"event_id": "early-1", "timestamp": t.isoformat(), "latency_ms": 5, "prediction": 1}])
    services.rollup_pending()
    assert window_summary(deployment.pk, t, t + timedelta(minutes=1)).accuracy == 1.0


def test_it_keeps_the_first_label_of_a_resent_batch(ds_owner, deployment):
    t = base_minute(30)
    post_minute(ds_owner, deployment, t, n=3, prediction=1)
    client = api_for(ds_owner)
    labels = [{"event_id": f"{t:%H%M}-{i}", "label": 1} for i in range(3)]
    client.post(URL, {"deployment": deployment.pk, "labels": labels}, format="json")
    again = client.post(URL, {"deployment": deployment.pk, "labels": labels}, format="json").json()
    assert (again["stored"], again["duplicates"]) == (0, 3)
    services.rollup_pending()
    assert window_summary(deployment.pk, t, t + timedelta(minutes=1)).labeled == 3


def test_it_rejects_a_label_batch_with_one_bad_label(ds_owner, deployment):
    labels = [{"event_id": "a", "label": 1}, {"event_id": "b", "label": {"nested": True}}]
    response = api_for(ds_owner).post(URL, {"deployment": deployment.pk, "labels": labels}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["events"][0]["index"] == 1
    assert response.json()["error"]["fields"]["events"][0]["field"] == "label"
    assert not GroundTruth.objects.exists()


def test_it_computes_rmse_for_numeric_labels(ds_owner, deployment):
    t = base_minute(30)
    services.events_ingest(user=ds_owner, deployment=deployment.pk, events=[
        {"event_id": f"r{i}", "timestamp": (t + timedelta(seconds=i)).isoformat(), "latency_ms": 5, "prediction": 10.0 + i}
        for i in range(4)])
    services.ground_truth_ingest(user=ds_owner, deployment=deployment.pk,
                                 labels=[{"event_id": f"r{i}", "label": 10.0 + i + (2 if i % 2 else -2)} for i in range(4)])
    services.rollup_pending()
    assert window_summary(deployment.pk, t, t + timedelta(minutes=1)).rmse == pytest.approx(2.0)

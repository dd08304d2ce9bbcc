"""The rollup on tables whose statistics are missing (right after a bulk load or a restore):
the labelled events of a window are found through the window and the unique
(deployment, event_id) index, not by joining every label of the deployment.

Inside the test's transaction the planner has no statistics about the rows just
written (nothing analysed them), which is the case this guards."""

from datetime import timedelta

import pytest
from django.db import connection

from monitoring.telemetry import services
from monitoring.telemetry.services import window_summary
from tests.telemetry.helpers import base_minute

pytestmark = pytest.mark.django_db

EVENTS_PER_MINUTE = 24
MINUTES = 180  # three hours: the rollup below reads one minute of it


def _load(user, deployment, start):
    events = [
        {"event_id": f"u{i}", "timestamp": (start + timedelta(seconds=i * 60 / EVENTS_PER_MINUTE)).isoformat(),
         "latency_ms": 10.0, "prediction": i % 2, "score": 0.8 if i % 2 else 0.2}
        for i in range(EVENTS_PER_MINUTE * MINUTES)
    ]
    for first in range(0, len(events), 2000):
        services.events_ingest(user=user, events=events[first:first + 2000], deployment=deployment.pk)
    # Two events in three get a label; the last one of each minute's labelled ones a wrong one.
    labels = [{"event_id": ev["event_id"], "label": ev["prediction"] if i % 24 != 1 else 1 - ev["prediction"]}
              for i, ev in enumerate(events) if i % 3]
    for first in range(0, len(labels), 2000):
        services.ground_truth_ingest(user=user, labels=labels[first:first + 2000], deployment=deployment.pk)


def test_it_rolls_up_labelled_events_of_the_window_only(ds_owner, deployment):
    start = base_minute(MINUTES + 5)
    _load(ds_owner, deployment, start)
    services.rollup_pending()
    minute = start + timedelta(minutes=MINUTES // 2)
    summary = window_summary(deployment.pk, minute, minute + timedelta(minutes=1))
    assert summary.count == EVENTS_PER_MINUTE
    assert summary.labeled == EVENTS_PER_MINUTE * 2 // 3
    assert summary.correct == summary.labeled - 1
    rows = list(services.labelled_events(deployment.pk, minute, minute + timedelta(minutes=1)))
    assert len(rows) == EVENTS_PER_MINUTE * 2 // 3


@pytest.mark.postgres  # reads PostgreSQL's plan (EXPLAIN)
def test_its_plan_probes_the_unique_label_index_from_the_window_without_statistics(ds_owner, deployment):
    start = base_minute(MINUTES + 5)
    _load(ds_owner, deployment, start)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'telemetry_groundtruth'")
        assert cursor.fetchone()[0] == 0  # no statistics: the case under test
    minute = start + timedelta(minutes=MINUTES // 2)
    plan = services.labelled_events(deployment.pk, minute, minute + timedelta(minutes=1)).explain()
    assert "telemetry_unique_label" in plan  # each label probed by (deployment, event_id)
    assert "Seq Scan on telemetry_groundtruth" not in plan and "Hash" not in plan, plan
    assert "telemetry_event_dep_ts" in plan  # the events come from the window's index range

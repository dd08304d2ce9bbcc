"""Two serving replicas retrying the same batch at the same moment (PostgreSQL: COPY, unique key races)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitoring.telemetry import services
from monitoring.telemetry.models import PredictionEvent
from tests.telemetry.fixtures import events


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_stores_each_event_once_when_the_same_batch_arrives_twice_at_once(ds_owner, deployment):
    batch = events(3000, start=datetime.now(UTC) - timedelta(minutes=10), spacing_s=0.1)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def send():
        try:
            barrier.wait()
            results.append(services.events_ingest(user=ds_owner, events=batch, deployment=deployment.pk)["stored"])
        except Exception as exc:  # reported below: the test must see it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [0, 3000] or sum(results) == 3000
    assert PredictionEvent.objects.filter(deployment=deployment).count() == 3000

"""Two serving replicas retrying the same batch at the same moment (PostgreSQL: COPY, unique key races)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitoring.telemetry import services
from monitoring.telemetry.models import PredictionEvent
from tests.telemetry.fixtures import events


@pytest.mark.postgres  # COPY, and its ON CONFLICT fallback racing on the unique key
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


@pytest.mark.postgres  # the advisory lock (pg_try_advisory_xact_lock) between concurrent connections
@pytest.mark.django_db(transaction=True)
def test_it_lets_concurrent_rollups_take_turns(ds_owner, deployment):
    from monitoring.telemetry.models import MinuteBucket

    start = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    services.events_ingest(user=ds_owner, events=events(1200, start=start, spacing_s=1), deployment=deployment.pk)
    barrier = threading.Barrier(2)
    errors = []

    def roll():
        try:
            barrier.wait()
            services.rollup_pending(limit=5)  # small chunks: the two runs interleave
        except Exception as exc:  # reported below: the test must see it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=roll) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    services.rollup_pending()  # whatever a run stepped aside from
    assert errors == []
    assert sum(MinuteBucket.objects.filter(deployment=deployment, version=0).values_list("count", flat=True)) == 1200

"""Mergeable summaries (percentiles, AUC, PSI) and retention."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitoring.telemetry import histogram as h
from monitoring.telemetry import services
from monitoring.telemetry.models import GroundTruth, HourBucket, MinuteBucket, PredictionEvent
from tests.telemetry.helpers import base_minute, post_minute


def test_it_merges_histograms_into_the_percentiles_of_the_whole():
    rng = random.Random(3)
    values = [rng.lognormvariate(3.5, 0.8) for _ in range(20_000)]
    parts = [h.empty_latency_hist() for _ in range(4)]
    for i, v in enumerate(values):
        parts[i % 4][h.latency_bucket(v)] += 1
    merged = h.empty_latency_hist()
    for part in parts:
        h.add_into(merged, part)
    exact = sorted(values)
    for q in (0.5, 0.95, 0.99):
        truth = exact[int(q * len(exact)) - 1]
        assert abs(h.percentile(merged, q) - truth) / truth < 0.19  # one bucket: growth 2^(1/4)


def test_it_computes_auc_and_psi_from_binned_scores():
    pos, neg = h.empty_score_hist(), h.empty_score_hist()
    for s in (0.95, 0.85, 0.75, 0.35):
        pos[h.score_bin(s)] += 1
    for s in (0.05, 0.15, 0.25, 0.8):
        neg[h.score_bin(s)] += 1
    # 14 of 16 pairs ordered right; 0.85 vs 0.8 share a bin and count one half: 13.5 / 16.
    assert h.auc_from_hists(pos, neg) == pytest.approx(13.5 / 16)
    same = [10] * 10
    assert h.psi(same, same) == pytest.approx(0)
    shifted = [0] * 5 + [20] * 5
    assert h.psi(same, shifted) > 0.25  # a major shift by the usual rule of thumb


@pytest.mark.django_db
def test_it_deletes_raw_rows_past_retention_but_keeps_hour_buckets(ds_owner, deployment, settings):
    t = base_minute(60)
    post_minute(ds_owner, deployment, t, n=10, prediction=1)
    services.ground_truth_ingest(user=ds_owner, deployment=deployment.pk, labels=[{"event_id": f"{t:%H%M}-0", "label": 1}])
    services.rollup_pending()
    later = datetime.now(UTC) + timedelta(days=settings.TELEMETRY_MINUTE_RETENTION_DAYS + 1)
    deleted = services.retention_cleanup(now=later)
    assert (deleted["events"], deleted["labels"], deleted["minute_buckets"]) == (10, 1, 2)
    assert not PredictionEvent.objects.exists() and not GroundTruth.objects.exists() and not MinuteBucket.objects.exists()
    assert HourBucket.objects.get(version=0).count == 10


@pytest.mark.django_db
def test_it_refuses_events_older_than_the_raw_retention(ds_owner, deployment):
    from modelgate.core.errors import ApplicationError

    old = datetime.now(UTC) - timedelta(days=30)
    with pytest.raises(ApplicationError) as exc:
        services.events_ingest(user=ds_owner, deployment=deployment.pk,
                               events=[{"event_id": "old", "timestamp": old.isoformat(), "latency_ms": 1}])
    # Its minute bucket may already have lost its raw rows: recomputing it would undercount.
    assert exc.value.fields["events"][0]["field"] == "timestamp"

"""Mergeable summaries: fixed log-spaced latency histograms and quality counts.

Every minute bucket stores counts per fixed latency bucket, so any set of
buckets (versions, minutes, hours) merges by adding counts, and percentiles of
the merged histogram are exact up to the bucket width (growth 2^(1/4): the
reported value lies in the same bucket as the true one, at most 19 % apart;
interpolation inside the bucket as in Prometheus' ``histogram_quantile``). A t-digest would be smaller
but is not exactly mergeable in SQL; fixed buckets are.

Pure Python, no numpy: imported by the web process.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

LATENCY_MIN_MS = 0.1
LATENCY_GROWTH = 2 ** 0.25
LATENCY_BUCKETS = 96  # bucket 0: [0, 0.1 ms); bucket i: [0.1·g^(i-1), 0.1·g^i); the last one is open-ended (≈ 6 min+)
SCORE_BINS = 10  # score histograms over [0, 1] for AUC and PSI

_LN_GROWTH = math.log(LATENCY_GROWTH)


def latency_bucket(ms: float) -> int:
    if ms < LATENCY_MIN_MS:
        return 0
    return min(int(math.floor(math.log(ms / LATENCY_MIN_MS) / _LN_GROWTH)) + 1, LATENCY_BUCKETS - 1)


def bucket_bounds(index: int) -> tuple[float, float]:
    if index == 0:
        return 0.0, LATENCY_MIN_MS
    return LATENCY_MIN_MS * LATENCY_GROWTH ** (index - 1), LATENCY_MIN_MS * LATENCY_GROWTH**index


def empty_latency_hist() -> list[int]:
    return [0] * LATENCY_BUCKETS


def empty_score_hist() -> list[int]:
    return [0] * SCORE_BINS


def score_bin(score: float) -> int:
    return min(max(int(score * SCORE_BINS), 0), SCORE_BINS - 1)


def add_into(target: list[int], source: list[int] | None) -> None:
    if source:
        target[:] = map(operator.add, target, source)  # element-wise in C: dashboards merge thousands of buckets


def percentile(hist: list[int], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of a latency histogram, interpolated geometrically inside its bucket."""
    total = sum(hist)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, n in enumerate(hist):
        if not n:
            continue
        if seen + n >= rank:
            lo, hi = bucket_bounds(index)
            if index == LATENCY_BUCKETS - 1:
                return lo
            frac = (rank - seen) / n
            if index == 0:
                return hi * frac
            return lo * (hi / lo) ** frac
        seen += n
    return bucket_bounds(LATENCY_BUCKETS - 1)[0]


def count_slower_than(hist: list[int], threshold_ms: float) -> int:
    """Events in buckets entirely above the threshold (the bucket holding it counts half)."""
    cut = latency_bucket(threshold_ms)
    return sum(hist[cut + 1 :]) + hist[cut] // 2


def auc_from_hists(pos: list[int], neg: list[int]) -> float | None:
    """ROC AUC from binned scores: ties inside a bin count one half (Mann-Whitney)."""
    n_pos, n_neg = sum(pos), sum(neg)
    if not n_pos or not n_neg:
        return None
    # A positive in bin i beats every negative in lower bins and ties with those in bin i.
    wins = 0.0
    neg_below = 0
    for i in range(SCORE_BINS):
        wins += pos[i] * (neg_below + neg[i] / 2)
        neg_below += neg[i]
    return wins / (n_pos * n_neg)


def psi(expected: list[int], actual: list[int], eps: float = 1e-4) -> float | None:
    """Population stability index of ``actual`` against ``expected`` (same bins)."""
    e_total, a_total = sum(expected), sum(actual)
    if not e_total or not a_total:
        return None
    value = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe = max(e / e_total, eps)
        pa = max(a / a_total, eps)
        value += (pa - pe) * math.log(pa / pe)
    return value


POSITIVE_VALUES = frozenset({"1", "true", "yes", "positive", "pos", "1.0"})


def is_positive(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in POSITIVE_VALUES


def same_value(a, b) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    return a == b


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class BucketMetrics:
    """Metrics derived from a bucket's counters and histograms (None when it holds no
    data for them): shared by ``Summary`` and by readers of stored rows that need no merge."""

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.count if self.count else None

    @property
    def mean_latency(self) -> float | None:
        return self.latency_sum / self.count if self.count else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labeled if self.labeled else None

    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None

    @property
    def auc(self) -> float | None:
        return auc_from_hists(self.pos_hist, self.neg_hist)

    @property
    def rmse(self) -> float | None:
        return math.sqrt(self.sse / self.numeric_labeled) if self.numeric_labeled else None

    @property
    def mean_label_lag(self) -> float | None:
        return self.label_lag_sum / self.labeled if self.labeled else None


@dataclass
class Summary(BucketMetrics):
    """The mergeable content of one or more rollup buckets."""

    count: int = 0
    errors: int = 0
    latency_sum: float = 0.0
    latency_hist: list[int] = field(default_factory=empty_latency_hist)
    score_hist: list[int] = field(default_factory=empty_score_hist)
    labeled: int = 0
    correct: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    numeric_labeled: int = 0
    sse: float = 0.0
    pos_hist: list[int] = field(default_factory=empty_score_hist)
    neg_hist: list[int] = field(default_factory=empty_score_hist)
    label_lag_sum: float = 0.0

    COUNTERS = ("count", "errors", "latency_sum", "labeled", "correct", "tp", "fp", "fn", "tn",
                "numeric_labeled", "sse", "label_lag_sum")
    HISTS = ("latency_hist", "score_hist", "pos_hist", "neg_hist")

    def add_bucket(self, bucket) -> None:
        """Add a bucket row (or anything with the same attributes / dict keys)."""
        get = bucket.get if isinstance(bucket, dict) else (lambda name, default=None: getattr(bucket, name, default))
        for name in self.COUNTERS:
            value = get(name)
            if value:
                setattr(self, name, getattr(self, name) + value)
        for name in self.HISTS:
            add_into(getattr(self, name), get(name))

    def add_labeled(self, *, prediction, score, label, lag_seconds: float) -> None:
        self.labeled += 1
        self.label_lag_sum += max(lag_seconds, 0.0)
        if same_value(prediction, label):
            self.correct += 1
        predicted, actual = is_positive(prediction), is_positive(label)
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1
        if is_number(prediction) and is_number(label):
            self.numeric_labeled += 1
            self.sse += (float(prediction) - float(label)) ** 2
        if score is not None:
            (self.pos_hist if actual else self.neg_hist)[score_bin(score)] += 1

    # --- percentiles from the merged latency histogram (the other metrics: BucketMetrics) ---
    def p(self, q: float) -> float | None:
        return percentile(self.latency_hist, q)

    def as_fields(self) -> dict:
        return {name: getattr(self, name) for name in (*self.COUNTERS, *self.HISTS)}

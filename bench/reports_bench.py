"""Report computation speed (not a CI test): chunked explanation and pre-aggregated fairness.

1. Explanation: a scikit-learn HistGradientBoostingClassifier (``--trees``
   iterations) on ``--rows`` rows × 10 features. Times one direct
   ``shap.TreeExplainer(model).shap_values(X)`` call against ``explain_rows``
   (chunks of ``--chunk-rows``, one after another in this process: the cost of
   chunking itself) on the same rows in the same run, ``--rounds`` interleaved
   rounds (median of the per-round ratios), checks the values are equal, and
   records peak memory. Reports spread chunks over worker processes:
   ``chunked_reports_bench.py`` measures that.
2. Fairness: ``--fair-rows`` rows with two sensitive features (3 × 5 = 15
   intersectional groups). Times building fairlearn's ``MetricFrame`` (count,
   selection rate, accuracy, TPR, FPR, precision) on the intersection against
   ``fairness_report`` (both features, their intersection, disparities, Wilson
   intervals) and checks every per-group value equal to 1e-9. Target: ≥ 10×.

    .venv/bin/python bench/reports_bench.py
    .venv/bin/python bench/reports_bench.py --rows 20000 --fair-rows 200000   # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def peak_mib(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def bench_explanation(rows: int, trees: int, chunk_rows: int, rounds: int) -> dict:
    import shap
    from sklearn.ensemble import HistGradientBoostingClassifier

    from monitoring.reports import explain
    from monitoring.reports.loading import LoadedModel

    rng = np.random.default_rng(0)
    columns = [f"x{i}" for i in range(10)]
    X = pd.DataFrame(rng.normal(size=(rows, 10)), columns=columns)
    y = ((X.x0 + X.x1 * X.x2 - 0.5 * X.x3 + rng.normal(scale=0.5, size=rows)) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=trees, random_state=0, early_stopping=False).fit(X, y)
    loaded = LoadedModel(model, "sklearn", "classification", columns)

    # Rounds interleave the two so a noisy neighbour hits both alike; the figure is the median per-round ratio.
    direct_times, chunked_times, max_diff, how = [], [], 0.0, {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        info = explain.build_explainer(loaded, X, params={}, seed=0)
        values, base, gap, how = explain.explain_rows(info, X, chunk_rows=chunk_rows)
        chunked_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        direct_values = shap.TreeExplainer(model).shap_values(X)
        direct_times.append(time.perf_counter() - t0)
        max_diff = max(max_diff, float(np.max(np.abs(np.asarray(direct_values) - values))))
        del direct_values, values
    ratios = [c / d for c, d in zip(chunked_times, direct_times, strict=True)]
    ratio = float(np.median(ratios))
    return {
        "rows": rows, "features": 10, "trees": trees, "chunk_rows": chunk_rows, "chunks": how["chunks"], "rounds": rounds,
        "direct_seconds": [round(t, 2) for t in direct_times], "chunked_seconds": [round(t, 2) for t in chunked_times],
        "ratios": [round(r, 3) for r in ratios], "median_ratio": round(ratio, 3),
        "max_abs_difference": max_diff, "peak_mib": round(peak_mib(resource.RUSAGE_SELF)),
    }


def load_snapshot() -> dict:
    out = {"loadavg_1m": os.getloadavg()[0]}
    with contextlib.suppress(OSError, IndexError, ValueError):  # no PSI on this kernel: load average only
        out["cpu_pressure_some_avg60"] = float(Path("/proc/pressure/cpu").read_text().split()[2].split("=")[1])
    return out


def bench_fairness(rows: int) -> dict:
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, precision_score

    from monitoring.reports.fairness import fairness_report

    rng = np.random.default_rng(1)
    sensitive = pd.DataFrame({
        "gender": rng.choice(["female", "male", "other"], rows, p=[0.48, 0.48, 0.04]),
        "age_band": rng.choice(["<25", "25-34", "35-49", "50-64", "65+"], rows),
    })
    y_true = rng.integers(0, 2, rows)
    y_pred = np.where(rng.uniform(size=rows) < 0.8, y_true, 1 - y_true)

    t0 = time.perf_counter()
    ours = fairness_report(sensitive, y_true=y_true, y_pred=y_pred, task="classification", params={})
    ours_seconds = time.perf_counter() - t0

    metrics = {"count": count, "selection_rate": selection_rate, "accuracy": accuracy_score, "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate, "precision": precision_score}
    t0 = time.perf_counter()
    frame = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive)
    metricframe_seconds = time.perf_counter() - t0

    intersection = {tuple(g["values"].values()): g["metrics"] for g in ours["groupings"][-1]["groups"]}
    worst = 0.0
    for key, row in frame.by_group.iterrows():
        for name in metrics:
            worst = max(worst, abs(intersection[key][name] - float(row[name])))
    return {
        "rows": rows, "groups": len(frame.by_group), "metricframe_seconds": round(metricframe_seconds, 2), "ours_seconds": round(ours_seconds, 3),
        "speedup": round(metricframe_seconds / ours_seconds, 1), "max_abs_difference": worst, "equal_to_1e-9": worst <= 1e-9,
        "target_speedup": 10, "meets_target": metricframe_seconds / ours_seconds >= 10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--chunk-rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fair-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-explanation", action="store_true")
    parser.add_argument("--skip-fairness", action="store_true")
    args = parser.parse_args()
    out = {"cpus": os.cpu_count(), "load_at_start": load_snapshot()}
    if not args.skip_fairness:
        out["fairness"] = bench_fairness(args.fair_rows)
        print(json.dumps({"fairness": out["fairness"]}), flush=True)
    if not args.skip_explanation:
        out["explanation"] = bench_explanation(args.rows, args.trees, args.chunk_rows, args.rounds)
        print(json.dumps({"explanation": out["explanation"]}), flush=True)
    out["load_at_end"] = load_snapshot()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Group fairness with fairlearn's definitions, computed from pre-aggregated counts.

The confusion counts (n, TP, FP, FN, TN — or for regressors n, Σ|e|, Σe²) are
computed once per intersection of the sensitive features with one
``np.bincount`` per count; every per-feature marginal is a sum of those cells,
and every metric and disparity derives from the counts. fairlearn's
``MetricFrame`` is the test oracle (same values to 1e-9), but building it on a
million rows costs seconds per metric; this costs a few bincounts.

Metric names say exactly what they are and how they are signed, because
libraries disagree (fairlearn's ``equalized_odds_difference`` is an unsigned
worst case, AIF360's ``equal_opportunity_difference`` is signed TPR only):
see ``METRIC_DEFINITIONS``, stored with every report.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DEFAULTS = {
    "min_group_n": 100,  # groups smaller than this are flagged for a person, never failed on
    "min_ratio": 0.8,  # four-fifths rule on selection rates
    "confidence_level": 0.95,
    "representation_ratio": 2.0,  # share vs reference share outside [1/r, r] is flagged
    "threshold": 0.5,  # score ≥ threshold predicts the favourable outcome (when the model predicts)
}

METRIC_DEFINITIONS = {
    "count": "rows in the group",
    "selection_rate": "(TP+FP)/n: share predicted favourable (fairlearn selection_rate)",
    "accuracy": "(TP+TN)/n",
    "true_positive_rate": "TP/(TP+FN); null when the group has no actual positives",
    "false_positive_rate": "FP/(FP+TN); null when the group has no actual negatives",
    "precision": "TP/(TP+FP); null when the group has no predicted positives",
    "mean_absolute_error": "mean |y − ŷ| (regressors)",
    "root_mean_squared_error": "sqrt(mean (y − ŷ)²) (regressors)",
    "demographic_parity_difference": "max − min selection_rate over groups; unsigned, ≥ 0, 0 = parity (fairlearn demographic_parity_difference)",
    "demographic_parity_ratio": "min / max selection_rate over groups; in [0, 1], 1 = parity (fairlearn demographic_parity_ratio)",
    "true_positive_rate_difference": "max − min TPR over groups; unsigned (unlike AIF360's signed equal_opportunity_difference)",
    "false_positive_rate_difference": "max − min FPR over groups; unsigned",
    "equalized_odds_difference": "max(TPR difference, FPR difference); unsigned worst case (fairlearn equalized_odds_difference, agg='worst_case')",
    "selection_rate_ratio_to_max": "group selection_rate / largest selection_rate among groups with n ≥ min_group_n; four-fifths rule fails below min_ratio",
    "mean_absolute_error_difference": "max − min MAE over groups; unsigned",
    "root_mean_squared_error_difference": "max − min RMSE over groups; unsigned",
}

_CLASSIFIER_COUNTS = ("n", "tp", "fp", "fn", "tn")
_REGRESSOR_COUNTS = ("n", "abs_error", "sq_error")


def _encode(sensitive: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    codes, uniques = [], []
    for column in sensitive.columns:
        c, u = pd.factorize(sensitive[column], sort=True, use_na_sentinel=False)
        codes.append(c.astype(np.int64))
        uniques.append(np.asarray(u, dtype=object))
    shape = [len(u) for u in uniques]
    key = np.ravel_multi_index(codes, shape) if len(codes) > 1 else codes[0]
    return key, uniques, shape


def aggregate_counts(sensitive: pd.DataFrame, *, y_true: np.ndarray, y_pred: np.ndarray, task: str) -> pd.DataFrame:
    """One row per observed intersection of the sensitive features, with the raw counts."""
    key, uniques, shape = _encode(sensitive)
    size = int(np.prod(shape))
    if task == "classification":
        yt = np.asarray(y_true, dtype=bool)
        yp = np.asarray(y_pred, dtype=bool)
        tp = np.bincount(key, weights=yt & yp, minlength=size)
        fp = np.bincount(key, weights=~yt & yp, minlength=size)
        fn = np.bincount(key, weights=yt & ~yp, minlength=size)
        n = np.bincount(key, minlength=size)
        data = {"n": n, "tp": tp, "fp": fp, "fn": fn, "tn": n - tp - fp - fn}
    else:
        err = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
        data = {"n": np.bincount(key, minlength=size), "abs_error": np.bincount(key, weights=np.abs(err), minlength=size),
                "sq_error": np.bincount(key, weights=err * err, minlength=size)}
    index = pd.MultiIndex.from_product([pd.Index(u, name=c) for u, c in zip(uniques, sensitive.columns, strict=True)])
    table = pd.DataFrame(data, index=index)
    table = table[table["n"] > 0]
    return table.astype({c: "int64" for c in ("n", "tp", "fp", "fn", "tn") if c in table})


def _ratio(num, den):
    return float(num) / float(den) if den else None


def wilson_interval(successes: int, trials: int, confidence_level: float) -> list[float] | None:
    if trials <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence_level, method="wilson")
    return [float(ci.low), float(ci.high)]


def group_metrics(row: pd.Series, *, task: str, confidence_level: float) -> dict:
    n = int(row["n"])
    if task != "classification":
        return {"count": n, "mean_absolute_error": row["abs_error"] / n, "root_mean_squared_error": math.sqrt(row["sq_error"] / n)}
    tp, fp, fn, tn = (int(row[c]) for c in ("tp", "fp", "fn", "tn"))
    metrics = {
        "count": n,
        "selection_rate": _ratio(tp + fp, n),
        "accuracy": _ratio(tp + tn, n),
        "true_positive_rate": _ratio(tp, tp + fn),
        "false_positive_rate": _ratio(fp, fp + tn),
        "precision": _ratio(tp, tp + fp),
    }
    # A Wilson interval beside every rate: small groups show how wide the noise is.
    metrics["intervals"] = {
        "selection_rate": wilson_interval(tp + fp, n, confidence_level),
        "accuracy": wilson_interval(tp + tn, n, confidence_level),
        "true_positive_rate": wilson_interval(tp, tp + fn, confidence_level),
        "false_positive_rate": wilson_interval(fp, fp + tn, confidence_level),
        "precision": wilson_interval(tp, tp + fp, confidence_level),
    }
    return metrics


def _spread(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return (max(present) - min(present)) if present else None


def grouping_result(table: pd.DataFrame, columns: list[str], *, task: str, params: dict, reference_shares: dict | None) -> dict:
    """Metrics per group of one grouping (a single feature or an intersection) and its disparities."""
    summed = table.groupby(level=columns, sort=True).sum() if len(columns) < table.index.nlevels else table
    total = int(summed["n"].sum())
    min_n = int(params["min_group_n"])
    groups = []
    for key, row in summed.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        label = {c: _plain(v) for c, v in zip(columns, key, strict=True)}
        name = " & ".join(f"{c}={label[c]}" for c in columns)
        metrics = group_metrics(row, task=task, confidence_level=float(params["confidence_level"]))
        share = metrics["count"] / total
        flags = []
        if metrics["count"] < min_n:
            flags.append("below_min_group_n")
        ref_share = (reference_shares or {}).get(name)
        if reference_shares is not None:
            r = float(params["representation_ratio"])
            if not ref_share or not (1 / r <= share / ref_share <= r):
                flags.append("far_from_reference_share")
        groups.append({"group": name, "values": label, "share": share, "reference_share": ref_share, "metrics": metrics, "flags": flags})
    result = {"sensitive_features": columns, "groups": groups}
    if task != "classification":
        result["disparities"] = {
            "mean_absolute_error_difference": _spread([g["metrics"]["mean_absolute_error"] for g in groups]),
            "root_mean_squared_error_difference": _spread([g["metrics"]["root_mean_squared_error"] for g in groups]),
        }
        result["four_fifths"] = {"verdict": "not_applicable", "reason": "selection rates exist only for classifiers"}
        return result
    rates = [g["metrics"]["selection_rate"] for g in groups]
    tpr_diff = _spread([g["metrics"]["true_positive_rate"] for g in groups])
    fpr_diff = _spread([g["metrics"]["false_positive_rate"] for g in groups])
    result["disparities"] = {
        "demographic_parity_difference": _spread(rates),
        "demographic_parity_ratio": (min(rates) / max(rates)) if max(rates) > 0 else None,
        "true_positive_rate_difference": tpr_diff,
        "false_positive_rate_difference": fpr_diff,
        "equalized_odds_difference": max(v for v in (tpr_diff, fpr_diff) if v is not None) if (tpr_diff is not None or fpr_diff is not None) else None,
    }
    result["four_fifths"] = four_fifths(groups, min_ratio=float(params["min_ratio"]), min_group_n=min_n)
    return result


def four_fifths(groups: list[dict], *, min_ratio: float, min_group_n: int) -> dict:
    """Selection-rate ratio of each group to the most selected group big enough to judge.

    A group below ``min_group_n`` never fails the rule: it is flagged for a
    person (with 50-odd rows, noise alone moves a rate by ±0.1).
    """
    eligible = [g for g in groups if g["metrics"]["count"] >= min_group_n]
    if not eligible:
        return {"verdict": "needs_review", "reason": f"no group has at least {min_group_n} rows", "failing_groups": [], "review_groups": [g["group"] for g in groups]}
    best = max(g["metrics"]["selection_rate"] for g in eligible)
    failing, review = [], []
    for g in groups:
        ratio = (g["metrics"]["selection_rate"] / best) if best > 0 else 1.0
        g["metrics"]["selection_rate_ratio_to_max"] = ratio
        if ratio < min_ratio:
            (failing if g["metrics"]["count"] >= min_group_n else review).append(g["group"])
    verdict = "fail" if failing else ("needs_review" if review else "pass")
    eligible_ratios = [g["metrics"]["selection_rate_ratio_to_max"] for g in eligible]
    return {"verdict": verdict, "min_ratio": min_ratio, "min_group_n": min_group_n, "lowest_eligible_ratio": min(eligible_ratios),
            "reference_selection_rate": best, "failing_groups": failing, "review_groups": review}


def fairness_report(sensitive: pd.DataFrame, *, y_true, y_pred, task: str, params: dict, reference_sensitive: pd.DataFrame | None = None) -> dict:
    p = {**DEFAULTS, **params}
    columns = list(sensitive.columns)
    if not columns:
        raise ValueError("sensitive features: the dataset declares none, so there is nothing to compare.")
    table = aggregate_counts(sensitive, y_true=y_true, y_pred=y_pred, task=task)
    groupings = [[c] for c in columns] + ([columns] if len(columns) > 1 else [])
    ref_shares = {}
    if reference_sensitive is not None:
        for cols in groupings:
            shares = reference_sensitive.groupby(cols, sort=False, dropna=False).size() / len(reference_sensitive)
            for key, share in shares.items():
                key = key if isinstance(key, tuple) else (key,)
                ref_shares[" & ".join(f"{c}={_plain(v)}" for c, v in zip(cols, key, strict=True))] = float(share)
    results = [grouping_result(table, cols, task=task, params=p, reference_shares=ref_shares if reference_sensitive is not None else None) for cols in groupings]
    verdicts = [r["four_fifths"]["verdict"] for r in results]
    overall = "fail" if "fail" in verdicts else "needs_review" if "needs_review" in verdicts else "not_applicable" if task != "classification" else "pass"
    flagged = sorted({g["group"] for r in results for g in r["groups"] if g["flags"]})
    return {"groupings": results, "verdict": overall, "flagged_groups": flagged, "parameters": p, "metric_definitions": METRIC_DEFINITIONS, "rows": int(len(sensitive))}


def fairness_figures(report: dict) -> dict:
    """A bar per group: selection rate with its Wilson interval, coloured by the group's
    four-fifths verdict, the four-fifths line drawn across, the favourable outcome named."""
    from monitoring import presentation as words
    from monitoring.reports.figures import bar_figure, vertical_line

    favourable = (report.get("favourable_outcome") or {}).get("text", "selected = predicted favourable outcome")
    level = int(report["parameters"]["confidence_level"] * 100)
    figures = {}
    for i, grouping in enumerate(report["groupings"]):
        groups = grouping["groups"]
        by = words.grouping_name(grouping)
        if "selection_rate" not in groups[0]["metrics"]:
            values = [g["metrics"]["mean_absolute_error"] for g in groups]
            figures[f"mae-{i}"] = bar_figure([g["group"] for g in groups], values, title=f"Mean absolute error by {by}", x_title="mean absolute error")
            continue
        rates = [g["metrics"]["selection_rate"] for g in groups]
        lows = [r - g["metrics"]["intervals"]["selection_rate"][0] for r, g in zip(rates, groups, strict=True)]
        highs = [g["metrics"]["intervals"]["selection_rate"][1] - r for r, g in zip(rates, groups, strict=True)]
        statuses = [words.group_status(grouping, g) for g in groups]
        labels = [f"{g['group']} (n={g['metrics']['count']}){'' if st == words.PASS else ' — ' + words.VERDICT_WORDS[st]}"
                  for g, st in zip(groups, statuses, strict=True)]
        extra = {}
        line = words.four_fifths_line(grouping)
        if line is not None:
            shape, note = vertical_line(line, f"four-fifths line {line:.3f}")
            extra = {"shapes": [shape], "annotations": [note]}
        verdict = words.VERDICT_WORDS.get(grouping["four_fifths"]["verdict"], grouping["four_fifths"]["verdict"])
        figures[f"selection-{i}"] = bar_figure(
            labels, rates, colours=[words.COLOURS[st] for st in statuses],
            title=f"Selection rate by {by}: four-fifths rule {verdict}<br><sup>{favourable}; bars: Wilson {level}% interval; red fails, orange needs review</sup>",
            x_title=f"selection rate ({favourable})", error={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
            **extra,
        )
    return figures


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value

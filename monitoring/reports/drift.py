"""Data drift between reference (training) and current data, per feature.

Defaults follow Evidently's spirit: small samples (≤ 1,000 rows) use a
statistical test at p ≤ 0.05 (two-sample Kolmogorov–Smirnov for numeric
features, chi-square for categorical ones); large samples use a distance, since
any test rejects on a large enough sample (Wasserstein distance normalised by
the reference standard deviation, or the Jensen–Shannon distance, drift at
≥ 0.1). PSI is computed for every feature: ≥ 0.1 warns, ≥ 0.2 fails. Every
threshold can be overridden for a model, globally or per feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.presentation import COLOURS, VERDICT_WORDS, drift_decision

DEFAULTS = {
    "large_sample_rows": 1000,  # above this (either side), distances replace tests
    "p_value": 0.05,
    "distance_threshold": 0.1,
    "psi_warn": 0.1,
    "psi_fail": 0.2,
    "psi_bins": 10,
    "drift_share": 0.5,  # the dataset drifts when at least this share of features drift
    "categorical_max_unique": 5,  # numeric columns with few distinct values are treated as categories
    "categorical_features": [],
    "stattest": None,  # force one of ks, chisquare, wasserstein, jensenshannon, psi
    "per_feature": {},  # {"feature": {"stattest": ..., "threshold": ...}}
}
PSI_EPSILON = 1e-4  # empty bins would make PSI infinite

METRIC_DEFINITIONS = {
    "psi": "population stability index Σ (cur − ref)·ln(cur/ref) over reference-quantile bins (numeric) or categories; unsigned, 0 = identical; bins clipped at 1e-4",
    "ks": "two-sample Kolmogorov–Smirnov (scipy.stats.ks_2samp); statistic in [0,1]; drift when p ≤ threshold",
    "chisquare": "chi-square test of homogeneity on the reference × current category counts (scipy.stats.chi2_contingency); drift when p ≤ threshold",
    "wasserstein": "scipy.stats.wasserstein_distance / reference standard deviation; unsigned; drift when ≥ threshold",
    "jensenshannon": "scipy.spatial.distance.jensenshannon of category shares, base 2 (in [0,1]); drift when ≥ threshold",
}


def is_categorical(ref: pd.Series, cur: pd.Series, params: dict, name: str) -> bool:
    if name in params["categorical_features"]:
        return True
    if not pd.api.types.is_numeric_dtype(ref) or pd.api.types.is_bool_dtype(ref):
        return True
    return ref.nunique(dropna=True) <= int(params["categorical_max_unique"])


def psi_numeric(ref: np.ndarray, cur: np.ndarray, bins: int) -> float:
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([ref.min() - 0.5, ref.max() + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    ref_share = np.histogram(ref, edges)[0] / len(ref)
    cur_share = np.histogram(cur, edges)[0] / len(cur)
    return _psi(ref_share, cur_share)


def category_shares(ref: pd.Series, cur: pd.Series) -> tuple[list, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ref_counts = ref.astype(str).value_counts()
    cur_counts = cur.astype(str).value_counts()
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    rc = ref_counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    cc = cur_counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    return categories, rc, cc, rc / rc.sum(), cc / cc.sum()


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    r = np.clip(ref_share, PSI_EPSILON, None)
    c = np.clip(cur_share, PSI_EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def feature_drift(name: str, ref: pd.Series, cur: pd.Series, params: dict) -> dict:
    from scipy import stats
    from scipy.spatial import distance

    override = params["per_feature"].get(name, {})
    ref, cur = ref.dropna(), cur.dropna()
    categorical = is_categorical(ref, cur, params, name)
    large = min(len(ref), len(cur)) > int(params["large_sample_rows"])
    test = override.get("stattest") or params["stattest"] or (
        ("jensenshannon" if large else "chisquare") if categorical else ("wasserstein" if large else "ks")
    )
    out = {"feature": name, "type": "categorical" if categorical else "numeric", "reference_rows": int(len(ref)), "current_rows": int(len(cur)), "test": test}
    if categorical:
        categories, rc, cc, rs, cs = category_shares(ref, cur)
        out["psi"] = _psi(rs, cs)
    else:
        r = ref.to_numpy(dtype=float)
        c = cur.to_numpy(dtype=float)
        out["psi"] = psi_numeric(r, c, int(override.get("psi_bins", params["psi_bins"])))
    if test == "ks":
        res = stats.ks_2samp(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float))
        out.update(statistic=float(res.statistic), p_value=float(res.pvalue), threshold=float(override.get("threshold", params["p_value"])))
        out["drifted"] = out["p_value"] <= out["threshold"]
    elif test == "chisquare":
        categories, rc, cc, rs, cs = category_shares(ref, cur)
        if len(categories) < 2:
            out.update(statistic=0.0, p_value=1.0)
        else:
            res = stats.chi2_contingency(np.vstack([rc, cc]))
            out.update(statistic=float(res.statistic), p_value=float(res.pvalue))
        out["threshold"] = float(override.get("threshold", params["p_value"]))
        out["drifted"] = out["p_value"] <= out["threshold"]
    elif test == "wasserstein":
        r = ref.to_numpy(dtype=float)
        std = float(np.std(r))
        raw = float(stats.wasserstein_distance(r, cur.to_numpy(dtype=float)))
        # A constant reference column cannot be normalised: any movement at all is drift (JSON has no infinity).
        out.update(statistic=raw / std if std > 0 else None, raw_distance=raw, threshold=float(override.get("threshold", params["distance_threshold"])))
        out["drifted"] = (out["statistic"] >= out["threshold"]) if out["statistic"] is not None else raw > 0
    elif test == "jensenshannon":
        categories, rc, cc, rs, cs = category_shares(ref, cur)
        out.update(statistic=float(distance.jensenshannon(rs, cs, base=2)), threshold=float(override.get("threshold", params["distance_threshold"])))
        out["drifted"] = out["statistic"] >= out["threshold"]
    elif test == "psi":
        out.update(statistic=out["psi"], threshold=float(override.get("threshold", params["psi_fail"])))
        out["drifted"] = out["psi"] >= out["threshold"]
    else:
        raise ValueError(f"stattest for {name}: unknown test {test!r}; use ks, chisquare, wasserstein, jensenshannon or psi.")
    psi_warn = float(override.get("psi_warn", params["psi_warn"]))
    psi_fail = float(override.get("psi_fail", params["psi_fail"]))
    out["psi_level"] = "fail" if out["psi"] >= psi_fail else "warn" if out["psi"] >= psi_warn else "ok"
    out["verdict"] = "fail" if (out["drifted"] or out["psi_level"] == "fail") else "warn" if out["psi_level"] == "warn" else "pass"
    return out


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, *, features: list[str], params: dict) -> dict:
    p = {**DEFAULTS, **params}
    if reference is None or reference.empty:
        raise ValueError("drift needs a reference dataset: attach one to the evaluation dataset.")
    missing = [f for f in features if f not in reference.columns]
    if missing:
        raise ValueError(f"reference dataset: columns missing: {', '.join(missing)}.")
    rows = [feature_drift(f, reference[f], current[f], p) for f in features]
    for row in rows:
        row["decided_by"] = drift_decision(row, p)  # which check decided the verdict, in words
    drifted = [r["feature"] for r in rows if r["verdict"] == "fail"]
    share = len(drifted) / len(rows) if rows else 0.0
    verdict = "fail" if share >= float(p["drift_share"]) and drifted else "warn" if any(r["verdict"] != "pass" for r in rows) else "pass"
    return {"features": rows, "drifted_features": drifted, "drift_share": share, "verdict": verdict, "parameters": p, "metric_definitions": METRIC_DEFINITIONS}


def _shares(values: pd.Series, edges: np.ndarray) -> list[float]:
    counts = np.histogram(values.to_numpy(dtype=float), edges)[0]
    return (counts / max(counts.sum(), 1)).tolist()


def drift_figures(report: dict, reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    """PSI per feature coloured by each feature's verdict, then reference vs current per feature,
    titled with the check that decided its verdict. Histograms are binned here (shares per bin on
    common edges), so a figure carries a few dozen numbers instead of every row."""
    from monitoring.reports.figures import bar_figure, vertical_line

    rows = report["features"]
    params = report["parameters"]
    lines = [vertical_line(float(params["psi_warn"]), f"warn {params['psi_warn']:g}", colour=COLOURS["warn"]),
             vertical_line(float(params["psi_fail"]), f"fail {params['psi_fail']:g}", colour=COLOURS["fail"])]
    figures = {"psi": bar_figure(
        [f"{r['feature']} — {VERDICT_WORDS[r['verdict']]}" for r in rows], [r["psi"] for r in rows],
        colours=[COLOURS[r["verdict"]] for r in rows], x_title="PSI",
        title="PSI per feature, coloured by each feature's verdict<br><sup>a feature also fails when its test detects drift (see the table)</sup>",
        shapes=[shape for shape, _ in lines], annotations=[note for _, note in lines],
    )}
    for r in rows[:20]:
        f = r["feature"]
        title = f"{f}: reference vs current<br><sup>{r['decided_by']['text']}</sup>"
        if r["type"] == "numeric":
            ref, cur = reference[f].dropna(), current[f].dropna()
            edges = np.histogram_bin_edges(np.concatenate([ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)]), bins="auto")
            if len(edges) > 41:  # at most 40 bins: enough to see a shift, few enough to read
                edges = np.linspace(edges[0], edges[-1], 41)
            centres, widths = ((edges[:-1] + edges[1:]) / 2).tolist(), np.diff(edges).tolist()
            data = [{"type": "bar", "x": centres, "y": _shares(side, edges), "width": widths, "name": name, "opacity": 0.6}
                    for name, side in (("reference", ref), ("current", cur))]
            layout = {"barmode": "overlay", "bargap": 0, "xaxis": {"title": {"text": f}}, "yaxis": {"title": {"text": "share of rows"}}}
        else:
            categories, _, _, rs, cs = category_shares(reference[f].dropna(), current[f].dropna())
            data = [{"type": "bar", "x": categories, "y": rs.tolist(), "name": "reference"}, {"type": "bar", "x": categories, "y": cs.tolist(), "name": "current"}]
            layout = {"barmode": "group", "xaxis": {"title": {"text": f}}, "yaxis": {"title": {"text": "share of rows"}}}
        figures[f"hist-{f}"] = {"data": data, "layout": {"title": {"text": title}, **layout}}
    return figures

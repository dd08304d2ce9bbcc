"""Explainability with shap: explainer choice, chunked (parallel) explanation,
global importance, beeswarm, dependence, partial dependence, waterfalls, what-if.

shap's pitfalls are handled here, not crashed on:
- a failed additivity check is retried without the check, and the largest gap
  between ``base + sum(SHAP)`` and the model output is recorded;
- interventional mode is refused for trees over 32,767 nodes (shap's node
  indices overflow there);
- output shapes changed between shap versions (list per class, 3-D arrays,
  1-element expected values): ``normalise_output`` is the one adapter.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.reports.figures import bar_figure, beeswarm_figure, line_figure, scatter_figure, waterfall_figure
from monitoring.reports.loading import LoadedModel, ReportInputError

MAX_INTERVENTIONAL_NODES = 32767
DEFAULTS = {
    "sample_size": 2000,  # rows explained (stratified by label); the rest only feed predictions
    "background_size": 100,  # model-agnostic explainer / interventional background
    "top_features": 3,  # dependence and partial-dependence plots
    "explain_rows": [],  # dataset row indices shown as waterfalls (default: first 3 of the sample)
    "feature_perturbation": "tree_path_dependent",
    "pdp_grid": 20,
    "pdp_rows": 500,
    "beeswarm_points": 1000,
    "max_evals": None,  # model-agnostic explainer: None = 10 permutations (10 × (2·features + 1) evaluations)
}


@dataclass
class ShapChunk:
    values: np.ndarray  # (rows, features)
    base_value: float
    additivity_gap: float | None  # None: the check passed (gap below shap's tolerance)


@dataclass
class ExplainerInfo:
    explainer: object
    name: str  # "tree" or "permutation"
    feature_perturbation: str | None
    output_space: str
    background_size: int | None
    max_nodes: int | None
    fallback_reason: str = ""
    native_threads: bool = False  # LightGBM/XGBoost compute contributions natively, multi-threaded


# --- the one output adapter -------------------------------------------------

def normalise_output(values, base_values, positive_index: int, n_rows: int, n_features: int, *, per_row_base: bool = False) -> tuple[np.ndarray, float]:
    """Turn any shap output shape into ((rows, features) values of the explained output, base value).

    ``base_values`` is an explainer's ``expected_value`` (scalar, or one per
    class) or, with ``per_row_base``, an Explanation's per-row base values.
    """
    if isinstance(values, list):  # older shap: one array per class
        values = values[min(positive_index, len(values) - 1)]
    values = np.asarray(values, dtype=float)
    if values.ndim == 3:  # (rows, features, classes)
        values = values[:, :, min(positive_index, values.shape[2] - 1)]
    if values.ndim == 1:
        values = values.reshape(n_rows, n_features)
    base = np.asarray(base_values if base_values is not None else 0.0, dtype=float)
    if per_row_base:
        base = base.reshape(n_rows, -1)[0] if base.size else np.zeros(1)
    base = base.reshape(-1)
    base_value = float(base[min(positive_index, base.size - 1)] if base.size > 1 else base[0])
    return values, base_value


# --- explainer choice -------------------------------------------------------

def build_explainer(model: LoadedModel, X_background: pd.DataFrame, *, params: dict, seed: int) -> ExplainerInfo:
    import shap

    perturbation = params.get("feature_perturbation", DEFAULTS["feature_perturbation"])
    tree_error = None
    try:
        probe = shap.TreeExplainer(model.raw, feature_perturbation="tree_path_dependent")
    except Exception as exc:  # not a tree model shap knows: fall back to a sampled model-agnostic explainer
        probe, tree_error = None, exc
    if probe is not None:
        max_nodes = int(np.max(probe.model.num_nodes)) if getattr(probe.model, "num_nodes", None) is not None else None
        output_space = str(getattr(probe.model, "tree_output", "") or "raw")
        if perturbation == "interventional":
            if max_nodes is not None and max_nodes > MAX_INTERVENTIONAL_NODES:
                raise ReportInputError(
                    f"Interventional SHAP is refused: a tree has {max_nodes} nodes, over shap's limit of "
                    f"{MAX_INTERVENTIONAL_NODES}; use feature_perturbation='tree_path_dependent'."
                )
            size = min(int(params.get("background_size", DEFAULTS["background_size"])), len(X_background))
            background = X_background.sample(n=size, random_state=seed)[model.feature_names]
            explainer = shap.TreeExplainer(model.raw, data=background, feature_perturbation="interventional")
            return ExplainerInfo(explainer, "tree", "interventional", output_space, size, max_nodes)
        native = type(model.raw).__module__.split(".")[0] in ("lightgbm", "xgboost")
        return ExplainerInfo(probe, "tree", "tree_path_dependent", output_space, None, max_nodes, native_threads=native)
    size = min(int(params.get("background_size", DEFAULTS["background_size"])), len(X_background))
    background = X_background.sample(n=size, random_state=seed)[model.feature_names]
    masker = shap.maskers.Independent(background, max_samples=size)
    explainer = shap.PermutationExplainer(model.predict_score, masker, seed=seed)
    # fallback_reason records why the tree path was not taken.
    output_space = "probability" if model.task == "classification" else "raw"
    return ExplainerInfo(explainer, "permutation", None, output_space, size, None, fallback_reason=str(tree_error)[:300])


def _model_output(info: ExplainerInfo, X: pd.DataFrame) -> np.ndarray | None:
    try:
        return np.asarray(info.explainer.model.predict(X), dtype=float).reshape(len(X), -1)[:, -1]
    except Exception:  # not every shap model wrapper can predict; the gap is then unknown
        return None


def explain_chunk(info: ExplainerInfo, X: pd.DataFrame, positive_index: int, max_evals: int | None = None) -> ShapChunk:
    n, f = X.shape
    if info.name == "tree":
        gap = None
        try:
            raw = info.explainer.shap_values(X, check_additivity=True)
        except Exception as exc:
            if "additivity" not in str(exc).lower():
                raise
            raw = info.explainer.shap_values(X, check_additivity=False)
            gap = float("nan")
        values, base = normalise_output(raw, info.explainer.expected_value, positive_index, n, f)
        if gap is not None:
            output = _model_output(info, X)
            gap = float(np.max(np.abs(values.sum(axis=1) + base - output))) if output is not None else None
        return ShapChunk(values, base, gap)
    evals = max(int(max_evals), 2 * f + 1) if max_evals else 10 * (2 * f + 1)
    explanation = info.explainer(X, max_evals=evals, silent=True)
    values, base = normalise_output(explanation.values, explanation.base_values, positive_index, n, f, per_row_base=True)
    return ShapChunk(values, base, None)


# --- chunked, parallel explanation -----------------------------------------

_FORKED: dict = {}


def _explain_forked(bounds: tuple[int, int]) -> tuple[int, ShapChunk]:
    start, stop = bounds
    return start, explain_chunk(_FORKED["info"], _FORKED["X"].iloc[start:stop], _FORKED["positive_index"], _FORKED["max_evals"])


def explain_rows(
    info: ExplainerInfo, X: pd.DataFrame, *, positive_index: int = 1, chunk_rows: int = 2000, processes: int = 1,
    max_evals: int | None = None, progress: Callable[[float], None] | None = None, before_fork: Callable[[], None] | None = None,
) -> tuple[np.ndarray, float, float | None, dict]:
    """SHAP values of every row of X, in chunks; chunks run in forked processes when it pays.

    shap's C++ tree path holds the GIL, so threads do not help; forked
    processes share the explainer and the data copy-on-write. LightGBM and
    XGBoost compute contributions natively with their own threads, so they
    stay in-process. Returns (values, base_value, largest additivity gap, how).
    """
    n = len(X)
    bounds = [(i, min(i + chunk_rows, n)) for i in range(0, n, chunk_rows)]
    out = np.empty((n, X.shape[1]), dtype=float)
    gaps: list[float] = []
    base = 0.0
    native_threads = info.name == "tree" and info.native_threads
    parallel = processes > 1 and len(bounds) > 1 and not native_threads
    how = {"chunks": len(bounds), "chunk_rows": chunk_rows, "processes": processes if parallel else 1}

    def take(start: int, chunk: ShapChunk, done: int):
        nonlocal base
        out[start : start + len(chunk.values)] = chunk.values
        base = chunk.base_value
        if chunk.additivity_gap is not None:
            gaps.append(chunk.additivity_gap)
        if progress:
            progress(done / len(bounds))

    if parallel:
        try:
            ctx = multiprocessing.get_context("fork")
            if before_fork:
                before_fork()  # e.g. close DB connections so children never share a socket
            _FORKED.update(info=info, X=X, positive_index=positive_index, max_evals=max_evals)
            with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
                for done, (start, chunk) in enumerate(pool.map(_explain_forked, bounds), start=1):
                    take(start, chunk, done)
            return out, base, (max(gaps) if gaps else None), how
        except (AssertionError, OSError) as exc:  # e.g. a daemonic worker process may not fork: go serial
            how.update(processes=1, parallel_error=str(exc))
        finally:
            _FORKED.clear()
    for done, (start, stop) in enumerate(bounds, start=1):
        take(start, explain_chunk(info, X.iloc[start:stop], positive_index, max_evals), done)
    return out, base, (max(gaps) if gaps else None), how


# --- sampling ---------------------------------------------------------------

def stratified_sample(n_rows: int, size: int, strata: np.ndarray | None, seed: int) -> np.ndarray:
    """Row indices: proportional per stratum (the label), sorted; all rows when size ≥ n."""
    if size >= n_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    if strata is None:
        return np.sort(rng.choice(n_rows, size=size, replace=False))
    picked = []
    values, inverse = np.unique(strata, return_inverse=True)
    for k in range(len(values)):
        idx = np.flatnonzero(inverse == k)
        take = max(1, round(size * len(idx) / n_rows))
        picked.append(rng.choice(idx, size=min(take, len(idx)), replace=False))
    return np.sort(np.concatenate(picked))[: max(size, len(values))]


# --- partial dependence -----------------------------------------------------

def partial_dependence(model: LoadedModel, X: pd.DataFrame, feature: str, *, grid: int, rows: int, seed: int) -> dict:
    """Average prediction as one feature sweeps a grid (scikit-learn's inspection module for its estimators)."""
    subset = X.sample(n=min(rows, len(X)), random_state=seed) if len(X) > rows else X
    if model.is_sklearn_estimator:
        from sklearn.inspection import partial_dependence as sk_pd

        response = "predict_proba" if model.task == "classification" and hasattr(model.raw, "predict_proba") else "auto"
        frame = subset[model.feature_names]
        if pd.api.types.is_integer_dtype(frame[feature]):
            # scikit-learn refuses integer columns (the grid would be rounded); the values are unchanged as floats.
            frame = frame.astype({feature: "float64"})
        result = sk_pd(model.raw, frame, [feature], grid_resolution=grid, kind="average", response_method=response, method="brute")
        averages = np.asarray(result["average"])
        curve = averages[model.positive_index if averages.shape[0] > 1 else 0]
        return {"feature": feature, "grid": [float(v) for v in result["grid_values"][0]], "average": [float(v) for v in curve], "method": "sklearn.inspection.partial_dependence (brute)"}
    values = subset[feature].to_numpy(dtype=float)
    grid_values = np.unique(np.quantile(values, np.linspace(0.05, 0.95, grid)))
    averages = []
    for value in grid_values:
        modified = subset.copy()
        modified[feature] = value
        averages.append(float(np.mean(model.predict_score(modified))))
    return {"feature": feature, "grid": [float(v) for v in grid_values], "average": averages, "method": "brute force over a quantile grid"}


# --- the report -------------------------------------------------------------

def explainability_report(
    model: LoadedModel, df: pd.DataFrame, *, label: np.ndarray | None, params: dict, seed: int,
    chunk_rows: int, processes: int, progress: Callable[[float], None], before_fork=None,
) -> dict:
    """Everything the stored report holds: results, figures, sample sizes, timings."""
    p = {**DEFAULTS, **params}
    timings: dict[str, float] = {}
    X = df[model.feature_names].reset_index(drop=True)
    t0 = time.perf_counter()
    info = build_explainer(model, X, params=p, seed=seed)
    timings["build_explainer"] = time.perf_counter() - t0

    rows = stratified_sample(len(X), int(p["sample_size"]), label, seed)
    X_sample = X.iloc[rows].reset_index(drop=True)
    t0 = time.perf_counter()
    values, base, gap, how = explain_rows(
        info, X_sample, positive_index=model.positive_index, chunk_rows=chunk_rows, processes=processes,
        max_evals=p["max_evals"], progress=lambda frac: progress(5 + 75 * frac), before_fork=before_fork,
    )
    timings["shap_values"] = time.perf_counter() - t0
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance)
    features = model.feature_names
    top = [features[i] for i in order[: int(p["top_features"])]]

    t0 = time.perf_counter()
    pdp = [partial_dependence(model, X, f, grid=int(p["pdp_grid"]), rows=int(p["pdp_rows"]), seed=seed) for f in top if pd.api.types.is_numeric_dtype(X[f])]
    timings["partial_dependence"] = time.perf_counter() - t0
    progress(90)

    wanted = [int(r) for r in p["explain_rows"]] or [int(r) for r in rows[:3]]
    bad = [r for r in wanted if not 0 <= r < len(X)]
    if bad:
        raise ReportInputError(f"explain_rows: row indices out of range 0–{len(X) - 1}: {bad}")
    position = {int(r): i for i, r in enumerate(rows)}
    missing = [r for r in wanted if r not in position]
    extra_values = explain_rows(info, X.iloc[missing], positive_index=model.positive_index, chunk_rows=chunk_rows, max_evals=p["max_evals"])[0] if missing else None
    predictions = model.predict_score(X.iloc[wanted])
    waterfalls = []
    for k, r in enumerate(wanted):
        row_values = values[position[r]] if r in position else extra_values[missing.index(r)]
        waterfalls.append({
            "row": r, "prediction": float(predictions[k]), "base_value": base,
            "contributions": sorted(
                ({"feature": f, "value": _jsonable(X.iloc[r][f]), "shap": float(row_values[j])} for j, f in enumerate(features)),
                key=lambda c: -abs(c["shap"]),
            ),
        })

    shown = stratified_sample(len(X_sample), int(p["beeswarm_points"]), None, seed)
    figures = {
        "importance": bar_figure([features[i] for i in order][::-1], [float(importance[i]) for i in order][::-1], title="Global importance (mean |SHAP|)", x_title="mean |SHAP value|"),
        "beeswarm": beeswarm_figure(features, values[shown], X_sample.iloc[shown], order=list(order), seed=seed),
    }
    for f in top:
        j = features.index(f)
        figures[f"dependence-{f}"] = scatter_figure(X_sample[f].iloc[shown].tolist(), values[shown, j].tolist(), title=f"SHAP dependence: {f}", x_title=f, y_title=f"SHAP value of {f}")
    for curve in pdp:
        figures[f"pdp-{curve['feature']}"] = line_figure(curve["grid"], curve["average"], title=f"Partial dependence: {curve['feature']}", x_title=curve["feature"], y_title="average prediction")
    for w in waterfalls:
        figures[f"waterfall-{w['row']}"] = waterfall_figure(w, title=f"Row {w['row']}: prediction {w['prediction']:.4f}")
    results = {
        "explainer": {
            "name": info.name, "feature_perturbation": info.feature_perturbation, "output_space": info.output_space,
            "background_size": info.background_size, "max_tree_nodes": info.max_nodes,
            "fallback_reason": info.fallback_reason, **how,
        },
        "base_value": base,
        "global_importance": [{"feature": features[i], "mean_abs_shap": float(importance[i])} for i in order],
        "additivity": {"checked": gap is None, "max_gap": gap},
        "partial_dependence": pdp,
        "waterfalls": waterfalls,
        "top_features": top,
        "metric_definitions": {"mean_abs_shap": "mean over explained rows of |SHAP value|, in the explainer's output space (see explainer.output_space); unsigned, larger = more influential"},
    }
    return {
        "results": results, "figures": figures, "timings": timings,
        "sample_sizes": {"dataset_rows": len(X), "explained_rows": len(rows), "background_rows": info.background_size or 0, "beeswarm_points": len(shown)},
        "sample_rows": rows,
        "values": values,
    }


def what_if(model: LoadedModel, base_row: dict, changes: dict, *, background: pd.DataFrame, params: dict, seed: int) -> dict:
    """Predictions and SHAP values of a row before and after changing some feature values."""
    unknown = [k for k in {**base_row, **changes} if k not in model.feature_names]
    if unknown:
        raise ReportInputError(f"Unknown feature(s) for this model: {', '.join(sorted(unknown))}.")
    absent = [f for f in model.feature_names if f not in base_row]
    if absent:
        raise ReportInputError(f"The row lacks feature(s): {', '.join(absent)}.")
    rows = pd.DataFrame([base_row, {**base_row, **changes}])[model.feature_names]
    for col in rows.columns:
        if col in background.columns:
            rows[col] = rows[col].astype(background[col].dtype)
    info = build_explainer(model, background, params={**DEFAULTS, **params}, seed=seed)
    chunk = explain_chunk(info, rows, model.positive_index, params.get("max_evals"))
    scores = model.predict_score(rows)
    sides = []
    for i, label in enumerate(("original", "changed")):
        sides.append({
            "name": label, "row": {f: _jsonable(rows.iloc[i][f]) for f in model.feature_names}, "prediction": float(scores[i]),
            "shap": {f: float(chunk.values[i, j]) for j, f in enumerate(model.feature_names)},
        })
    return {"base_value": chunk.base_value, "output_space": info.output_space, "explainer": info.name, "original": sides[0], "changed": sides[1],
            "prediction_change": float(scores[1] - scores[0])}


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    return value

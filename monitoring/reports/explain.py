"""Explainability with shap: explainer choice, chunked explanation, global
importance, beeswarm, dependence, partial dependence, waterfalls, what-if.

A report's explained rows are split into chunks that run as separate jobs on
any worker process (``monitoring.report_tasks``); each chunk rebuilds the
explainer from the model and the background rows the plan picked, so its
values are those of one explainer over all rows. Row values never depend on
how rows are chunked: the tree path computes each row on its own, and the
model-agnostic explainer is seeded per row (report seed, dataset row number).

shap's pitfalls are handled here, not crashed on:
- a failed additivity check is retried without the check, and the largest gap
  between ``base + sum(SHAP)`` and the model output is recorded;
- interventional mode is refused for trees over 32,767 nodes (shap's node
  indices overflow there);
- output shapes changed between shap versions (list per class, 3-D arrays,
  1-element expected values): ``normalise_output`` is the one adapter.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
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
    seed: int = 0
    background: pd.DataFrame | None = None  # the rows the explainer integrates over (None: tree path dependent)


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

def pick_background(model: LoadedModel, X: pd.DataFrame, *, params: dict, seed: int) -> pd.DataFrame:
    size = min(int(params.get("background_size", DEFAULTS["background_size"])), len(X))
    return X.sample(n=size, random_state=seed)[model.feature_names]


def build_explainer(model: LoadedModel, X_background: pd.DataFrame | None, *, params: dict, seed: int,
                    background: pd.DataFrame | None = None) -> ExplainerInfo:
    """The explainer for this model; ``background``: rows already picked (a chunk rebuilding the plan's explainer)."""
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
            if background is None:
                background = pick_background(model, X_background, params=params, seed=seed)
            explainer = shap.TreeExplainer(model.raw, data=background, feature_perturbation="interventional")
            return ExplainerInfo(explainer, "tree", "interventional", output_space, len(background), max_nodes, seed=seed, background=background)
        return ExplainerInfo(probe, "tree", "tree_path_dependent", output_space, None, max_nodes, seed=seed)
    if background is None:
        background = pick_background(model, X_background, params=params, seed=seed)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.PermutationExplainer(model.predict_score, masker, seed=seed)
    # fallback_reason records why the tree path was not taken.
    output_space = "probability" if model.task == "classification" else "raw"
    return ExplainerInfo(explainer, "permutation", None, output_space, len(background), None,
                         fallback_reason=str(tree_error)[:300], seed=seed, background=background)


def _model_output(info: ExplainerInfo, X: pd.DataFrame) -> np.ndarray | None:
    try:
        return np.asarray(info.explainer.model.predict(X), dtype=float).reshape(len(X), -1)[:, -1]
    except Exception:  # not every shap model wrapper can predict; the gap is then unknown
        return None


def explain_chunk(info: ExplainerInfo, X: pd.DataFrame, positive_index: int, max_evals: int | None = None) -> ShapChunk:
    """SHAP values of the rows of X (indexed by dataset row number: it seeds the model-agnostic explainer)."""
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
    values = np.empty((n, f), dtype=float)
    base = 0.0
    for i in range(n):
        # shap's permutation explainer draws from numpy's global generator: seed it per row so a
        # row's values are the same whichever chunk, process or order explains it.
        np.random.seed([info.seed, int(X.index[i])])
        explanation = info.explainer(X.iloc[i : i + 1], max_evals=evals, silent=True)
        values[i : i + 1], base = normalise_output(explanation.values, explanation.base_values, positive_index, 1, f, per_row_base=True)
    return ShapChunk(values, base, None)


def chunk_bounds(n_rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    return [(i, min(i + chunk_rows, n_rows)) for i in range(0, n_rows, max(1, chunk_rows))]


def merge_chunks(chunks: list[ShapChunk]) -> tuple[np.ndarray, float, float | None]:
    """(values of every row in chunk order, base value, largest additivity gap or None)."""
    gaps = [c.additivity_gap for c in chunks if c.additivity_gap is not None]
    return np.concatenate([c.values for c in chunks]), chunks[-1].base_value, (max(gaps) if gaps else None)


def explain_rows(
    info: ExplainerInfo, X: pd.DataFrame, *, positive_index: int = 1, chunk_rows: int = 2000,
    max_evals: int | None = None, progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, float, float | None, dict]:
    """SHAP values of every row of X, chunk after chunk in this process (what-if rows, tests, benchmarks).

    Reports spread the same chunks over worker processes as chunk jobs instead.
    Returns (values, base_value, largest additivity gap, how).
    """
    bounds = chunk_bounds(len(X), chunk_rows)
    chunks = []
    for done, (start, stop) in enumerate(bounds, start=1):
        chunks.append(explain_chunk(info, X.iloc[start:stop], positive_index, max_evals))
        if progress:
            progress(done / len(bounds))
    if not chunks:
        return np.empty((0, X.shape[1])), 0.0, None, {"chunks": 0, "chunk_rows": chunk_rows}
    values, base, gap = merge_chunks(chunks)
    return values, base, gap, {"chunks": len(bounds), "chunk_rows": chunk_rows}


# --- what travels between the plan, the chunks and the merge (artifact store blobs) ---

def frame_to_bytes(frame: pd.DataFrame) -> bytes:
    """Rows as Parquet, index (dataset row numbers) and dtypes kept exactly."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=True)
    return buffer.getvalue()


def frame_from_bytes(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


def values_to_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype=float), allow_pickle=False)
    return buffer.getvalue()


def values_from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


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

@dataclass
class ExplanationPlan:
    """What the chunks need and the merge re-derives: all rows, the explained sample, the explainer."""

    X: pd.DataFrame  # every dataset row, feature columns
    rows: np.ndarray  # dataset row numbers explained, sorted
    X_sample: pd.DataFrame  # X.iloc[rows], indexed by dataset row number
    info: ExplainerInfo
    params: dict
    build_seconds: float


def plan_explanation(model: LoadedModel, df: pd.DataFrame, *, label: np.ndarray | None, params: dict, seed: int) -> ExplanationPlan:
    """Pick the explained rows (stratified by label) and the explainer; deterministic for a seed."""
    p = {**DEFAULTS, **params}
    X = df[model.feature_names].reset_index(drop=True)
    t0 = time.perf_counter()
    info = build_explainer(model, X, params=p, seed=seed)
    build_seconds = time.perf_counter() - t0
    rows = stratified_sample(len(X), int(p["sample_size"]), label, seed)
    return ExplanationPlan(X, rows, X.iloc[rows], info, p, build_seconds)


def explainability_report(
    model: LoadedModel, df: pd.DataFrame, *, label: np.ndarray | None, params: dict, seed: int,
    chunk_rows: int, progress: Callable[[float], None],
) -> dict:
    """The whole report in this process, chunk after chunk: the serial reference of the chunked run."""
    plan = plan_explanation(model, df, label=label, params=params, seed=seed)
    t0 = time.perf_counter()
    values, base, gap, how = explain_rows(
        plan.info, plan.X_sample, positive_index=model.positive_index, chunk_rows=chunk_rows,
        max_evals=plan.params["max_evals"], progress=lambda frac: progress(5 + 75 * frac),
    )
    shap_seconds = time.perf_counter() - t0
    out = complete_explanation(model, plan, values, base=base, gap=gap, how=how, seed=seed, chunk_rows=chunk_rows)
    out["timings"].update(build_explainer=plan.build_seconds, shap_values=shap_seconds)
    progress(90)
    return out


def complete_explanation(model: LoadedModel, plan: ExplanationPlan, values: np.ndarray, *, base: float, gap: float | None,
                         how: dict, seed: int, chunk_rows: int) -> dict:
    """Everything the stored report holds, from the SHAP values of the sample: results, figures, sizes, timings."""
    p, X, rows, X_sample, info = plan.params, plan.X, plan.rows, plan.X_sample, plan.info
    if values.shape != X_sample.shape:
        raise ValueError(f"SHAP values of {values.shape[0]} rows for a sample of {len(X_sample)} rows.")
    timings: dict[str, float] = {}
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance)
    features = model.feature_names
    top = [features[i] for i in order[: int(p["top_features"])]]

    t0 = time.perf_counter()
    pdp = [partial_dependence(model, X, f, grid=int(p["pdp_grid"]), rows=int(p["pdp_rows"]), seed=seed) for f in top if pd.api.types.is_numeric_dtype(X[f])]
    timings["partial_dependence"] = time.perf_counter() - t0

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
    chunk = explain_chunk(info, rows, model.positive_index, params.get("max_evals"))  # rows 0 and 1 seed the two
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

"""Plotly figures as plain JSON dicts (``{"data": [...], "layout": {...}}``).

Built by hand rather than with plotly's Python graph objects: the worker only
needs the JSON the portal hands to the locally served plotly.js.
"""

from __future__ import annotations

import numpy as np


def _layout(title: str, x_title: str = "", y_title: str = "", **extra) -> dict:
    return {"title": {"text": title}, "xaxis": {"title": {"text": x_title}}, "yaxis": {"title": {"text": y_title}}, "margin": {"l": 140}, **extra}


def bar_figure(labels, values, *, title: str, x_title: str = "", error=None, horizontal: bool = True, colours=None, **layout) -> dict:
    """One bar per label; ``colours`` one per bar (e.g. by verdict); ``layout`` extras such as threshold ``shapes``."""
    trace = {"type": "bar", "x": list(values), "y": list(labels), "orientation": "h"} if horizontal else {"type": "bar", "x": list(labels), "y": list(values)}
    if error is not None:
        trace["error_x" if horizontal else "error_y"] = error
    if colours is not None:
        trace["marker"] = {"color": list(colours)}
    return {"data": [trace], "layout": _layout(title, x_title, **layout)}


def vertical_line(x: float, label: str, *, colour: str = "#424242") -> tuple[dict, dict]:
    """A dashed threshold line across the plot at ``x`` and its label at the top: (shape, annotation)."""
    shape = {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": {"dash": "dash", "color": colour, "width": 2}}
    note = {"xref": "x", "yref": "paper", "x": x, "y": 1, "yanchor": "bottom", "text": label, "showarrow": False, "font": {"color": colour, "size": 11}}
    return shape, note


def scatter_figure(x, y, *, title: str, x_title: str, y_title: str) -> dict:
    return {"data": [{"type": "scatter", "mode": "markers", "x": _clean(x), "y": _clean(y), "marker": {"size": 4, "opacity": 0.6}}], "layout": _layout(title, x_title, y_title)}


def line_figure(x, y, *, title: str, x_title: str, y_title: str) -> dict:
    return {"data": [{"type": "scatter", "mode": "lines+markers", "x": _clean(x), "y": _clean(y)}], "layout": _layout(title, x_title, y_title)}


def beeswarm_figure(features, values: np.ndarray, X, *, order, seed: int) -> dict:
    """One row of jittered points per feature; colour = the feature's value scaled to 0–1 (beeswarm-style summary)."""
    rng = np.random.default_rng(seed)
    traces = []
    for rank, j in enumerate(reversed(list(order))):
        column = X.iloc[:, j]
        try:
            raw = column.to_numpy(dtype=float)
            span = np.nanmax(raw) - np.nanmin(raw)
            colour = ((raw - np.nanmin(raw)) / span) if span > 0 else np.zeros_like(raw)
        except (TypeError, ValueError):  # categorical feature: no colour scale
            colour = np.zeros(len(column))
        traces.append({
            "type": "scatter", "mode": "markers", "name": features[j], "showlegend": False,
            "x": _clean(values[:, j]), "y": _clean(rank + rng.uniform(-0.3, 0.3, len(column))),
            "marker": {"size": 4, "color": _clean(colour), "colorscale": "RdBu", "reversescale": True, "cmin": 0, "cmax": 1},
        })
    layout = _layout("SHAP summary (beeswarm)", "SHAP value", "")
    layout["yaxis"] = {"tickmode": "array", "tickvals": list(range(len(order))), "ticktext": [features[j] for j in reversed(list(order))]}
    return {"data": traces, "layout": layout}


def waterfall_figure(waterfall: dict, *, title: str, max_features: int = 12) -> dict:
    contributions = waterfall["contributions"][:max_features]
    rest = sum(c["shap"] for c in waterfall["contributions"][max_features:])
    labels = [f"{c['feature']} = {c['value']}" for c in contributions]
    values = [c["shap"] for c in contributions]
    if len(waterfall["contributions"]) > max_features:
        labels.append("other features")
        values.append(rest)
    return {
        "data": [{
            "type": "waterfall", "orientation": "h",
            "y": ["base value", *labels], "x": [waterfall["base_value"], *values], "measure": ["absolute", *["relative"] * len(values)],
        }],
        "layout": _layout(title, "model output", ""),
    }


def _clean(values) -> list:
    """JSON has no NaN: missing values become null."""
    out = []
    for v in np.asarray(values, dtype=object).tolist():
        if isinstance(v, float) and not np.isfinite(v):
            out.append(None)
        else:
            out.append(v)
    return out

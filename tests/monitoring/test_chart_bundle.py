"""The vendored partial plotly.js bundle draws every chart the code builds: a trace type it lacks
would leave an empty box in the browser, with nothing failing on the server."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.staticfiles import finders

from monitoring.reports import drift, fairness, figures
from monitoring.telemetry import figures as telemetry_figures
from tests.monitoring.reports_data import credit_frame

BUNDLE = Path(settings.BASE_DIR) / "static" / "vendor" / "plotly" / "plotly-finance.min.js"


def bundle_trace_types() -> set[str]:
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', BUNDLE.read_text(encoding="utf-8")))


def built_figures() -> list[dict]:
    """One figure from every builder, on small data."""
    df = credit_frame(400, seed=1)
    out = []
    fair = fairness.fairness_report(df[["gender", "age_band"]], y_true=df["approved"].to_numpy(), y_pred=df["approved"].to_numpy(),
                                    task="classification", params={"min_group_n": 10})
    out += fairness.fairness_figures(fair).values()
    regression = fairness.fairness_report(df[["gender"]], y_true=df["income"].to_numpy(), y_pred=df["income"].to_numpy() + 1, task="regression", params={})
    out += fairness.fairness_figures(regression).values()
    current = credit_frame(400, seed=2, shift=1.0)
    drifted = drift.drift_report(df, current, features=["income", "debt_ratio", "age_band"], params={})
    out += drift.drift_figures(drifted, df, current).values()
    values = np.random.default_rng(0).normal(size=(50, 2))
    X = pd.DataFrame({"income": df["income"][:50], "debt_ratio": df["debt_ratio"][:50]})
    out += [
        figures.bar_figure(["a", "b"], [1.0, 2.0], title="bars"),
        figures.scatter_figure([1, 2], [3, 4], title="dots", x_title="x", y_title="y"),
        figures.line_figure([1, 2], [3, 4], title="line", x_title="x", y_title="y"),
        figures.beeswarm_figure(["income", "debt_ratio"], values, X, order=[0, 1], seed=0),
        figures.waterfall_figure({"base_value": 0.5, "contributions": [{"feature": "income", "value": 1.0, "shap": 0.1}]}, title="row"),
    ]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    points = [{"t": now + timedelta(minutes=i), "p50": 1.0, "p95": 2.0, "p99": 3.0, "throughput": 10, "error_rate": 0.01,
               "labeled": True, "accuracy": 0.9, "f1": None, "auc": None, "rmse": None, "psi": 0.01} for i in range(3)]
    rules = [SimpleNamespace(kind="threshold", metric="latency_p95", threshold=250.0, is_floor=False)]
    versions = [{"version": 1, "weight": 80, "p95_series": [{"t": p["t"], "p95": 2.0, "error_rate": 0.0} for p in points]}]
    out += [
        telemetry_figures.latency(points, rules), telemetry_figures.throughput(points, rules), telemetry_figures.error_rate(points, rules),
        telemetry_figures.quality(points, rules), telemetry_figures.drift(points, rules),
        telemetry_figures.compliance({"daily": [{"period": "2026-01-01", "rules": {"1": 99.0}}], "rules": [{"id": 1, "name": "p95"}]}, "daily"),
        telemetry_figures.canary(versions), telemetry_figures.canary_errors(versions),
    ]
    return out


def test_it_builds_only_trace_types_the_vendored_bundle_draws():
    available = bundle_trace_types()
    assert {"scatter", "bar"} <= available  # the pattern still reads the bundle
    used = {trace.get("type", "scatter") for fig in built_figures() for trace in fig["data"]}
    assert used and used <= available, used - available


def test_it_serves_the_partial_bundle_with_its_licence_and_not_the_full_one(db):
    assert finders.find("vendor/plotly/plotly-finance.min.js") == str(BUNDLE)
    assert finders.find("vendor/plotly/plotly.min.js") is None
    folder = BUNDLE.parent
    assert "MIT License" in (folder / "LICENSE").read_text()
    version = (folder / "VERSION").read_text()
    assert BUNDLE.read_text(encoding="utf-8")[:200].count("v4.1.0") == 1 and "plotly.js-finance-dist-min 4.1.0" in version

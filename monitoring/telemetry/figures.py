"""Plotly figures as plain dicts (the web process imports neither pandas nor
plotly here): rendered in the browser by static/js/modelgate.js from
``{{ fig|json_script:"id" }}``."""

from __future__ import annotations

from monitoring.telemetry.choices import Metric, RuleKind

_LATENCY = {Metric.LATENCY_P50: "p50", Metric.LATENCY_P95: "p95", Metric.LATENCY_P99: "p99"}
_QUALITY = ("accuracy", "f1", "auc", "rmse")


def _layout(title: str, y_title: str, **extra) -> dict:
    return {"title": {"text": title}, "xaxis": {"type": "date"}, "yaxis": {"title": {"text": y_title}},
            "legend": {"orientation": "h", "y": -0.3, "yanchor": "top"}, "height": 340, **extra}


def _sla_line(points: list[dict], value: float, label: str) -> dict:
    xs = [points[0]["t"], points[-1]["t"]] if points else []
    return {"type": "scatter", "mode": "lines", "name": label, "x": xs, "y": [value] * len(xs),
            "line": {"dash": "dash", "color": "#c0392b"}}


def latency(points: list[dict], rules) -> dict:
    xs = [p["t"] for p in points]
    data = [{"type": "scatter", "mode": "lines", "name": q, "x": xs, "y": [p[q] for p in points]} for q in ("p50", "p95", "p99")]
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD and rule.metric in _LATENCY:
            data.append(_sla_line(points, rule.threshold, f"SLA {_LATENCY[rule.metric]} ≤ {rule.threshold:g} ms"))
    return {"data": data, "layout": _layout("Latency percentiles", "ms")}


def throughput(points: list[dict], rules) -> dict:
    data = [{"type": "bar", "name": "events/min", "x": [p["t"] for p in points], "y": [p["throughput"] for p in points]}]
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD and rule.metric == Metric.THROUGHPUT:
            data.append(_sla_line(points, rule.threshold, f"floor {rule.threshold:g}/min"))
    return {"data": data, "layout": _layout("Throughput", "events per minute")}


def error_rate(points: list[dict], rules) -> dict:
    data = [{"type": "scatter", "mode": "lines", "name": "error rate", "x": [p["t"] for p in points],
             "y": [p["error_rate"] for p in points]}]
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD and rule.metric == Metric.ERROR_RATE:
            data.append(_sla_line(points, rule.threshold, f"SLA ≤ {rule.threshold:g}"))
    return {"data": data, "layout": _layout("Error rate", "fraction", yaxis={"tickformat": ".1%"})}


def quality(points: list[dict], rules) -> dict:
    labeled = [p for p in points if p["labeled"]]
    xs = [p["t"] for p in labeled]
    data = [{"type": "scatter", "mode": "lines+markers", "name": name, "x": xs, "y": [p[name] for p in labeled]}
            for name in _QUALITY if any(p[name] is not None for p in labeled)]
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD and rule.metric in _QUALITY:
            data.append(_sla_line(labeled, rule.threshold, f"SLA {rule.metric} {'≥' if rule.is_floor else '≤'} {rule.threshold:g}"))
    return {"data": data, "layout": _layout("Quality (labelled events, by prediction time)", "metric")}


def drift(points: list[dict], rules) -> dict:
    data = [{"type": "scatter", "mode": "lines", "name": "PSI vs first day", "x": [p["t"] for p in points],
             "y": [p["psi"] for p in points]}]
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD and rule.metric == Metric.DRIFT_PSI:
            data.append(_sla_line(points, rule.threshold, f"ceiling {rule.threshold:g}"))
    return {"data": data, "layout": _layout("Score drift (PSI)", "PSI")}


def compliance(table: dict, period: str) -> dict:
    rows = table[period]
    data = [
        {"type": "bar", "name": rule["name"], "x": [r["period"] for r in rows],
         "y": [r["rules"].get(str(rule["id"])) for r in rows]}
        for rule in table["rules"]
    ]
    layout = _layout(f"SLA compliance per {'day' if period == 'daily' else 'week'} (% of hours within the SLA)", "%",
                     barmode="group", yaxis={"range": [0, 100]})
    layout["xaxis"] = {"type": "category"}
    return {"data": data, "layout": layout}


def canary(versions: list[dict]) -> dict:
    data = [
        {"type": "scatter", "mode": "lines", "name": f"v{v['version']} ({v['weight']}%)",
         "x": [p["t"] for p in v["p95_series"]], "y": [p["p95"] for p in v["p95_series"]]}
        for v in versions
    ]
    return {"data": data, "layout": _layout("p95 latency per version", "ms")}


def canary_errors(versions: list[dict]) -> dict:
    data = [
        {"type": "scatter", "mode": "lines", "name": f"v{v['version']} ({v['weight']}%)",
         "x": [p["t"] for p in v["p95_series"]], "y": [p["error_rate"] for p in v["p95_series"]]}
        for v in versions
    ]
    return {"data": data, "layout": _layout("Error rate per version", "fraction", yaxis={"tickformat": ".1%"})}

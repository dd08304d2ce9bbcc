"""Reports in words: the favourable outcome, why a group or a feature got its verdict, and chart
headings, derived from a report's stored results.

Pure Python (no numpy or pandas): the worker uses it to title the figures it stores, and the
portal to head and order the charts of any report, including reports stored before these words
existed, so a chart's heading always agrees with the verdict in the results beside it.
"""

from __future__ import annotations

import re

FAIL, REVIEW, WARN, PASS = "fail", "needs_review", "warn", "pass"
COLOURS = {FAIL: "#c62828", REVIEW: "#ef6c00", WARN: "#ef6c00", PASS: "#1f77b4"}
VERDICT_WORDS = {FAIL: "fails", REVIEW: "needs review", WARN: "warns", PASS: "passes"}

DRIFT_TESTS = {
    "ks": "Kolmogorov–Smirnov test",
    "chisquare": "χ² test",
    "wasserstein": "Wasserstein distance",
    "jensenshannon": "Jensen–Shannon distance",
    "psi": "PSI",
}
FLAG_WORDS = {
    "below_min_group_n": "too few rows to judge",
    "far_from_reference_share": "share far from the reference data's",
}


def number(value, digits: int = 3) -> str:
    """A value as people read it: 3 significant digits, no exponent for ordinary sizes."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.1e}"


# --- fairness ------------------------------------------------------------------

def favourable_outcome(*, label_column: str, positive_label, meaning: str = "") -> dict:
    """What "selected" means in a fairness report, e.g. "selected = predicted default = 0, i.e. repays"."""
    text = f"selected = predicted {label_column} = {positive_label}"
    if meaning:
        text += f", i.e. {meaning}"
    return {"label_column": label_column, "positive_label": positive_label, "meaning": meaning, "text": text}


def group_status(grouping: dict, group: dict) -> str:
    four_fifths = grouping.get("four_fifths") or {}
    if group["group"] in (four_fifths.get("failing_groups") or []):
        return FAIL
    if group["group"] in (four_fifths.get("review_groups") or []):
        return REVIEW
    return PASS


def group_reason(grouping: dict, group: dict) -> str:
    """Why a group passes, fails or waits for a person under the four-fifths rule."""
    four_fifths = grouping.get("four_fifths") or {}
    ratio = group["metrics"].get("selection_rate_ratio_to_max")
    min_ratio, min_n = four_fifths.get("min_ratio"), four_fifths.get("min_group_n")
    if ratio is None or min_ratio is None:
        return four_fifths.get("reason", "")
    status = group_status(grouping, group)
    if status == FAIL:
        return f"fails: ratio {number(ratio)} < {number(min_ratio)}"
    if status == REVIEW:
        return f"needs review: ratio {number(ratio)} < {number(min_ratio)}, but only {group['metrics']['count']} rows (< {min_n})"
    return f"passes: ratio {number(ratio)} ≥ {number(min_ratio)}"


def four_fifths_line(grouping: dict) -> float | None:
    """The selection rate below which a group fails: min_ratio × the most selected big-enough group's rate."""
    four_fifths = grouping.get("four_fifths") or {}
    if four_fifths.get("min_ratio") is None or four_fifths.get("reference_selection_rate") is None:
        return None
    return four_fifths["min_ratio"] * four_fifths["reference_selection_rate"]


def grouping_name(grouping: dict) -> str:
    return " × ".join(grouping["sensitive_features"])


# --- explanations ----------------------------------------------------------------

def _output_name(output_schema, schema_format: str = "") -> str:
    """The version's published output: its output schema's one field, else the one that reads as a probability or score."""
    if not isinstance(output_schema, dict):
        return ""
    names = [f.get("name") for f in output_schema.get("fields") or [] if isinstance(f, dict)] if schema_format == "avro" or "fields" in output_schema \
        else list((output_schema.get("properties") or {}).keys())
    names = [n for n in names if n]
    if len(names) == 1:
        return names[0]
    return next((n for n in names if any(w in n.lower() for w in ("probab", "score"))), "")


def explained_output(*, task: str, label_column: str, positive_class=None, output_schema=None, schema_format: str = "") -> dict:
    """The one output every explanation of a model explains, named as the version publishes it:
    e.g. "default_probability = P(default = 1)" for a classifier, "predicted price" for a regressor."""
    name = _output_name(output_schema, schema_format)
    if task == "classification":
        meaning = f"P({label_column} = {positive_class})"
        text = f"{name} = {meaning}" if name else meaning
    else:
        meaning = f"predicted {label_column}"
        text = f"{name} ({meaning})" if name else meaning
    return {"name": name or meaning, "meaning": meaning, "text": text, "label_column": label_column, "positive_class": positive_class}


def shap_space(output_space: str) -> str:
    """The scale SHAP values add up on: tree explainers of boosted models work in log-odds, not probability."""
    return " (in log-odds)" if output_space in ("log_odds", "raw") else ""


def name_explained_output(figures: dict, output: dict, *, output_space: str = "probability", task: str = "classification") -> dict:
    """Name the explained output on every explanation chart: its title and the axis that carries it."""
    text = output["text"]
    shap_axis = f"SHAP value: contribution to {output['name']}{shap_space(output_space) if task == 'classification' else ''}"
    for key, figure in figures.items():
        layout = figure.setdefault("layout", {})
        title = (layout.get("title") or {}).get("text", "")
        layout["title"] = {"text": f"{title}<br><sup>explains {text}</sup>"}
        if key in ("importance",):
            layout.setdefault("xaxis", {})["title"] = {"text": f"mean |SHAP value| on {output['name']}"}
        elif key == "beeswarm":
            layout.setdefault("xaxis", {})["title"] = {"text": shap_axis}
        elif key.startswith("dependence-"):
            layout.setdefault("yaxis", {})["title"] = {"text": shap_axis}
        elif key.startswith("pdp-"):
            layout.setdefault("yaxis", {})["title"] = {"text": f"average {output['name']}"}
        elif key.startswith("waterfall-"):
            layout.setdefault("xaxis", {})["title"] = {"text": f"{output['name']}{shap_space(output_space) if task == 'classification' else ''}"}
    return figures


# --- drift ---------------------------------------------------------------------

def _drift_thresholds(row: dict, params: dict) -> tuple[float, float]:
    override = (params.get("per_feature") or {}).get(row["feature"], {})
    return float(override.get("psi_warn", params.get("psi_warn", 0.1))), float(override.get("psi_fail", params.get("psi_fail", 0.2)))


def _test_words(row: dict) -> str:
    test, threshold = row["test"], row.get("threshold")
    name = DRIFT_TESTS.get(test, test)
    if test in ("ks", "chisquare"):
        p = row.get("p_value")
        return f"{name} p = {number(p)} {'≤' if row.get('drifted') else '>'} {number(threshold)}"
    if row.get("statistic") is None:  # Wasserstein over a constant reference column
        return f"{name}: the reference is constant and the values {'moved' if row.get('drifted') else 'did not move'}"
    return f"{name} {number(row['statistic'])} {'≥' if row.get('drifted') else '<'} {number(threshold)}"


def drift_decision(row: dict, params: dict) -> dict:
    """Which check decided a feature's verdict, with its value and threshold, in one sentence.

    A feature fails when its test detects drift or its PSI reaches psi_fail, and warns when
    its PSI reaches psi_warn (``monitoring.reports.drift.feature_drift``); the check named
    first decided it, the one in brackets did not.
    """
    psi_warn, psi_fail = _drift_thresholds(row, params)
    psi = row.get("psi")
    test = _test_words(row)
    if psi is None:
        psi_words, psi_level = "PSI —", PASS
    elif psi >= psi_fail:
        psi_words, psi_level = f"PSI {number(psi)} ≥ {number(psi_fail)}", FAIL
    elif psi >= psi_warn:
        psi_words, psi_level = f"PSI {number(psi)} ≥ {number(psi_warn)}", WARN
    else:
        psi_words, psi_level = f"PSI {number(psi)} < {number(psi_warn)}", PASS
    verdict = row.get("verdict", PASS)
    if verdict == FAIL and row.get("drifted"):
        check = row["test"]
        text = f"fails: {test} and {psi_words}" if psi_level == FAIL else f"fails: {test} ({psi_words}{', alone a warning' if psi_level == WARN else ''})"
    elif verdict == FAIL:
        check, text = "psi", f"fails: {psi_words} ({test})"
    elif verdict == WARN:
        check, text = "psi", f"warns: {psi_words} ({test})"
    else:
        check, text = row["test"], f"passes: {test}; {psi_words}"
    return {"check": check, "check_name": DRIFT_TESTS.get(check, check), "text": text}


# --- chart headings and order ----------------------------------------------------

_EXPLAIN_ORDER = ("importance", "beeswarm", "pdp-", "dependence-", "waterfall-")


def _natural(key: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def figure_heading(kind: str, figure_id: str, results: dict | None) -> str:
    """A chart's heading in words, agreeing with the verdicts in ``results``."""
    results = results or {}
    if kind == "fairness":
        match = re.fullmatch(r"(selection|mae)-(\d+)", figure_id)
        groupings = results.get("groupings") or []
        if match and int(match.group(2)) < len(groupings):
            grouping = groupings[int(match.group(2))]
            if match.group(1) == "mae":
                return f"Mean absolute error by {grouping_name(grouping)}"
            verdict = (grouping.get("four_fifths") or {}).get("verdict", "")
            return f"Selection rate by {grouping_name(grouping)}: four-fifths rule {VERDICT_WORDS.get(verdict, verdict)}"
    if kind == "drift":
        if figure_id == "psi":
            return "PSI per feature, coloured by each feature's verdict"
        rows = {r["feature"]: r for r in results.get("features") or []}
        feature = figure_id.removeprefix("hist-")
        if figure_id.startswith("hist-") and feature in rows:
            row = rows[feature]
            decision = drift_decision(row, results.get("parameters") or {})
            verdict = VERDICT_WORDS.get(row.get("verdict"), row.get("verdict"))
            on = f" on the {decision['check_name']}" if row.get("verdict") != PASS else ""
            return f"{feature}: reference vs current ({verdict}{on})"
    if kind == "explainability":
        of = f" of {results['explained_output']['name']}" if results.get("explained_output") else ""
        if figure_id == "importance":
            return f"Global importance{of}: mean |SHAP value| per feature"
        if figure_id == "beeswarm":
            return f"SHAP values{of} for every explained row (beeswarm)"
        for prefix, words in (("pdp-", "Partial dependence{of} on {f}"), ("dependence-", "SHAP dependence{of} on {f}"),
                              ("waterfall-", "Why row {f} got its {output} (waterfall)")):
            if figure_id.startswith(prefix):
                output = results["explained_output"]["name"] if results.get("explained_output") else "prediction"
                return words.format(of=of, f=figure_id.removeprefix(prefix), output=output)
    return figure_id.replace("-", " ").replace("_", " ").capitalize()


def _rank(kind: str, figure_id: str, results: dict) -> tuple:
    """Charts a reader needs first come first: failing groupings and drifting features, then the rest."""
    severity = {FAIL: 0, REVIEW: 1, WARN: 1, PASS: 2}
    if kind == "fairness":
        match = re.fullmatch(r"(selection|mae)-(\d+)", figure_id)
        groupings = results.get("groupings") or []
        if match and int(match.group(2)) < len(groupings):
            verdict = (groupings[int(match.group(2))].get("four_fifths") or {}).get("verdict")
            return (severity.get(verdict, 2), int(match.group(2)))
    if kind == "drift":
        if figure_id == "psi":
            return (-1,)
        verdicts = {r["feature"]: r.get("verdict") for r in results.get("features") or []}
        return (severity.get(verdicts.get(figure_id.removeprefix("hist-")), 3), _natural(figure_id))
    if kind == "explainability":
        for i, prefix in enumerate(_EXPLAIN_ORDER):
            if figure_id == prefix or (prefix.endswith("-") and figure_id.startswith(prefix)):
                return (i, _natural(figure_id))
    return (len(_EXPLAIN_ORDER), _natural(figure_id))


def ordered_figures(kind: str, figures: dict, results: dict | None) -> list[dict]:
    """Every stored figure, most telling first, each with its heading and a stable anchor."""
    results = results or {}
    favourable = (results.get("favourable_outcome") or {}).get("text", "")
    explained = f"explains {results['explained_output']['text']}" if results.get("explained_output") else ""
    rows = {r["feature"]: r for r in results.get("features") or []} if kind == "drift" else {}
    out = []
    for figure_id in sorted(figures or {}, key=lambda f: _rank(kind, f, results)):
        # A line under the heading: what "selected" means (fairness), what decided the verdict (drift).
        note = favourable if kind == "fairness" else explained if kind == "explainability" else ""
        row = rows.get(figure_id.removeprefix("hist-")) if figure_id.startswith("hist-") else None
        if row is not None:
            note = (row.get("decided_by") or drift_decision(row, results.get("parameters") or {}))["text"]
        out.append({
            "key": figure_id, "anchor": "chart-" + re.sub(r"[^A-Za-z0-9_-]", "_", figure_id),
            "heading": figure_heading(kind, figure_id, results), "note": note, "figure": figures[figure_id],
        })
    return out


# --- tables --------------------------------------------------------------------

def fairness_tables(results: dict, *, dataset=None) -> dict:
    """The fairness report as tables: each group with its status and reason, the four-fifths line,
    and the favourable outcome (from the results, or from the dataset for reports stored before it was)."""
    favourable = results.get("favourable_outcome")
    if favourable is None and dataset is not None and dataset.task == "classification":
        favourable = favourable_outcome(label_column=dataset.label_column, positive_label=dataset.positive_label,
                                        meaning=getattr(dataset, "positive_label_meaning", ""))
    groupings = []
    for grouping in results.get("groupings") or []:
        rows = [{**group, "status": group_status(grouping, group), "reason": group_reason(grouping, group),
                 "flag_words": [FLAG_WORDS.get(f, f) for f in group.get("flags") or []]} for group in grouping["groups"]]
        four_fifths = grouping.get("four_fifths") or {}
        groupings.append({**grouping, "name": grouping_name(grouping), "rows": rows, "line": four_fifths_line(grouping),
                          "verdict_words": VERDICT_WORDS.get(four_fifths.get("verdict"), four_fifths.get("verdict", ""))})
    return {"favourable": favourable, "groupings": groupings}


def drift_table(results: dict) -> list[dict]:
    params = results.get("parameters") or {}
    return [{**row, "decided_by": row.get("decided_by") or drift_decision(row, params), "test_name": DRIFT_TESTS.get(row["test"], row["test"])}
            for row in results.get("features") or []]

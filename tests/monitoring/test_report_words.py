"""Reports that explain themselves: the favourable outcome, the four-fifths line and each group's
status on the fairness charts; the check and threshold that decided each drift verdict, in the
results and in chart titles that agree with it; chart headings in words, most telling first."""

import numpy as np
import pandas as pd
import pytest

from monitoring import presentation
from monitoring.reports import drift, fairness

FAVOURABLE = presentation.favourable_outcome(label_column="default", positive_label=0, meaning="repays")


def groups_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """Predicted selections: men 70 %, women 40 % (fails the four-fifths rule), a 30-row group at 10 % (needs review)."""
    gender = ["male"] * 500 + ["female"] * 500 + ["other"] * 30
    selected = [1] * 350 + [0] * 150 + [1] * 200 + [0] * 300 + [1] * 3 + [0] * 27
    return pd.DataFrame({"gender": gender}), np.array(selected)


@pytest.fixture(scope="module")
def fair_report():
    sensitive, selected = groups_frame()
    report = fairness.fairness_report(sensitive, y_true=selected, y_pred=selected, task="classification", params={})
    report["favourable_outcome"] = FAVOURABLE
    return report


def test_it_names_the_favourable_outcome_in_words():
    assert FAVOURABLE["text"] == "selected = predicted default = 0, i.e. repays"
    assert presentation.favourable_outcome(label_column="approved", positive_label=1)["text"] == "selected = predicted approved = 1"


def test_it_draws_the_four_fifths_line_and_colours_each_group_by_its_status(fair_report):
    figure = fairness.fairness_figures(fair_report)["selection-0"]
    trace, layout = figure["data"][0], figure["layout"]
    by_label = dict(zip(trace["y"], trace["marker"]["color"], strict=True))
    assert by_label == {
        "gender=female (n=500) — fails": presentation.COLOURS["fail"],
        "gender=male (n=500)": presentation.COLOURS["pass"],
        "gender=other (n=30) — needs review": presentation.COLOURS["needs_review"],
    }
    (line,) = layout["shapes"]
    assert line["x0"] == line["x1"] == pytest.approx(0.8 * 0.7) and line["line"]["dash"] == "dash"
    assert "four-fifths line 0.560" in layout["annotations"][0]["text"]
    # The favourable outcome is named on the chart: title and axis.
    assert "selected = predicted default = 0, i.e. repays" in layout["title"]["text"]
    assert "four-fifths rule fails" in layout["title"]["text"]
    assert "i.e. repays" in layout["xaxis"]["title"]["text"]


def test_it_gives_each_group_a_status_and_a_reason(fair_report):
    tables = presentation.fairness_tables(fair_report)
    assert tables["favourable"]["text"] == FAVOURABLE["text"]
    (grouping,) = tables["groupings"]
    rows = {r["group"]: r for r in grouping["rows"]}
    assert rows["gender=female"]["status"] == "fail" and rows["gender=female"]["reason"] == "fails: ratio 0.571 < 0.8"
    assert rows["gender=other"]["status"] == "needs_review" and "only 30 rows (< 100)" in rows["gender=other"]["reason"]
    assert rows["gender=male"]["status"] == "pass" and rows["gender=other"]["flag_words"] == ["too few rows to judge"]
    assert grouping["line"] == pytest.approx(0.56) and grouping["verdict_words"] == "fails"


def test_it_takes_the_favourable_outcome_from_the_dataset_for_older_reports(fair_report):
    older = {k: v for k, v in fair_report.items() if k != "favourable_outcome"}

    class Dataset:
        task, label_column, positive_label, positive_label_meaning = "classification", "default", 0, "repays"

    assert presentation.fairness_tables(older, dataset=Dataset())["favourable"]["text"] == FAVOURABLE["text"]


@pytest.mark.parametrize(("row", "check", "text"), [
    ({"test": "wasserstein", "statistic": 0.3734, "threshold": 0.1, "drifted": True, "psi": 0.1345, "verdict": "fail"},
     "wasserstein", "fails: Wasserstein distance 0.373 ≥ 0.1 (PSI 0.135 ≥ 0.1, alone a warning)"),
    ({"test": "ks", "statistic": 0.05, "p_value": 0.2, "threshold": 0.05, "drifted": False, "psi": 0.25, "verdict": "fail"},
     "psi", "fails: PSI 0.25 ≥ 0.2 (Kolmogorov–Smirnov test p = 0.2 > 0.05)"),
    ({"test": "chisquare", "statistic": 9.0, "p_value": 0.001, "threshold": 0.05, "drifted": True, "psi": 0.3, "verdict": "fail"},
     "chisquare", "fails: χ² test p = 0.001 ≤ 0.05 and PSI 0.3 ≥ 0.2"),
    ({"test": "jensenshannon", "statistic": 0.05, "threshold": 0.1, "drifted": False, "psi": 0.12, "verdict": "warn"},
     "psi", "warns: PSI 0.12 ≥ 0.1 (Jensen–Shannon distance 0.05 < 0.1)"),
    ({"test": "wasserstein", "statistic": 0.04, "threshold": 0.1, "drifted": False, "psi": 0.0133, "verdict": "pass"},
     "wasserstein", "passes: Wasserstein distance 0.04 < 0.1; PSI 0.0133 < 0.1"),
])
def test_it_names_the_check_that_decided_a_drift_verdict_and_its_threshold(row, check, text):
    decision = presentation.drift_decision({"feature": "f", **row}, {"psi_warn": 0.1, "psi_fail": 0.2})
    assert (decision["check"], decision["text"]) == (check, text)


def test_it_reads_per_feature_psi_thresholds():
    row = {"feature": "f", "test": "ks", "statistic": 0.1, "p_value": 0.5, "threshold": 0.05, "drifted": False, "psi": 0.15, "verdict": "pass"}
    params = {"psi_warn": 0.1, "psi_fail": 0.2, "per_feature": {"f": {"psi_warn": 0.2, "psi_fail": 0.3}}}
    assert presentation.drift_decision(row, params)["text"].endswith("PSI 0.15 < 0.2")


@pytest.fixture(scope="module")
def drifted():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"income": rng.normal(50, 10, 3000), "debt": rng.uniform(0, 1, 3000), "band": rng.choice(["a", "b"], 3000)})
    current = pd.DataFrame({"income": rng.normal(58, 10, 3000), "debt": rng.uniform(0, 1, 3000), "band": rng.choice(["a", "b"], 3000)})
    report = drift.drift_report(reference, current, features=["income", "debt", "band"], params={})
    return report, drift.drift_figures(report, reference, current)


def test_it_stores_which_check_decided_each_feature_and_titles_its_chart_with_it(drifted):
    report, figures = drifted
    rows = {r["feature"]: r for r in report["features"]}
    assert rows["income"]["verdict"] == "fail" and rows["income"]["decided_by"]["check"] == "wasserstein"
    assert rows["debt"]["verdict"] == "pass" and rows["debt"]["decided_by"]["text"].startswith("passes: Wasserstein distance")
    for feature, row in rows.items():
        assert row["decided_by"]["text"] in figures[f"hist-{feature}"]["layout"]["title"]["text"]
    # The PSI chart colours each feature by its verdict (a feature can fail on its test with a low PSI).
    psi = figures["psi"]["data"][0]
    assert dict(zip(psi["y"], psi["marker"]["color"], strict=True)) == {
        "income — fails": presentation.COLOURS["fail"], "debt — passes": presentation.COLOURS["pass"], "band — passes": presentation.COLOURS["pass"],
    }
    assert [s["x0"] for s in figures["psi"]["layout"]["shapes"]] == [0.1, 0.2]


def test_it_bins_numeric_histograms_on_the_server(drifted):
    _, figures = drifted
    reference, current = figures["hist-income"]["data"]
    assert reference["type"] == current["type"] == "bar" and len(reference["x"]) <= 40
    assert sum(reference["y"]) == pytest.approx(1.0) and sum(current["y"]) == pytest.approx(1.0)


def test_it_heads_charts_in_words_and_puts_the_failing_ones_first(fair_report, drifted):
    sensitive = pd.DataFrame({"gender": ["m", "f"] * 200, "band": ["a"] * 200 + ["b"] * 200})
    selected = np.array([1] * 200 + [1, 1, 0, 0] * 50)  # band b selected half as often, each gender alike
    two = fairness.fairness_report(sensitive, y_true=selected, y_pred=selected, task="classification", params={"min_group_n": 50})
    figures = fairness.fairness_figures(two)
    ordered = presentation.ordered_figures("fairness", figures, two)
    assert [f["key"] for f in ordered][:2] == ["selection-1", "selection-2"]  # band and gender × band fail, gender passes
    assert ordered[0]["heading"] == "Selection rate by band: four-fifths rule fails"
    assert ordered[-1]["heading"] == "Selection rate by gender: four-fifths rule passes"

    report, drift_figures = drifted
    headings = [f["heading"] for f in presentation.ordered_figures("drift", drift_figures, report)]
    assert headings[:2] == ["PSI per feature, coloured by each feature's verdict", "income: reference vs current (fails on the Wasserstein distance)"]
    explain = presentation.ordered_figures("explainability", dict.fromkeys(["waterfall-12", "pdp-income", "importance", "waterfall-3", "beeswarm", "dependence-income"], {}), {})
    assert [f["heading"] for f in explain] == [
        "Global importance: mean |SHAP value| per feature", "SHAP values for every explained row (beeswarm)", "Partial dependence on income",
        "SHAP dependence on income", "Why row 3 got its prediction (waterfall)", "Why row 12 got its prediction (waterfall)",
    ]
    assert all(f["anchor"].startswith("chart-") for f in explain)
    # With the explained output recorded, every heading names it.
    output = presentation.explained_output(task="classification", label_column="default", positive_class=1, output_schema=OUTPUT_SCHEMA)
    named = presentation.ordered_figures("explainability", dict.fromkeys(["pdp-income", "waterfall-3"], {}), {"explained_output": output})
    assert [(f["heading"], f["note"]) for f in named] == [
        ("Partial dependence of default_probability on income", "explains default_probability = P(default = 1)"),
        ("Why row 3 got its default_probability (waterfall)", "explains default_probability = P(default = 1)"),
    ]


OUTPUT_SCHEMA = {"type": "object", "properties": {"default_probability": {"type": "number", "minimum": 0, "maximum": 1}}}


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"task": "classification", "label_column": "default", "positive_class": 1, "output_schema": OUTPUT_SCHEMA}, "default_probability = P(default = 1)"),
    ({"task": "classification", "label_column": "approved", "positive_class": 1, "output_schema": None}, "P(approved = 1)"),
    ({"task": "classification", "label_column": "fraud", "positive_class": "yes", "schema_format": "avro",
      "output_schema": {"type": "record", "name": "Out", "fields": [{"name": "fraud_score", "type": "double"}, {"name": "model_id", "type": "string"}]}},
     "fraud_score = P(fraud = yes)"),
    ({"task": "regression", "label_column": "price", "output_schema": {"properties": {"price_eur": {"type": "number"}}}}, "price_eur (predicted price)"),
])
def test_it_names_the_explained_output_as_the_version_publishes_it(kwargs, text):
    assert presentation.explained_output(**kwargs)["text"] == text


def test_it_names_the_explained_output_on_every_explanation_chart():
    output = presentation.explained_output(task="classification", label_column="default", positive_class=1, output_schema=OUTPUT_SCHEMA)
    figures = {key: {"data": [], "layout": {"title": {"text": key}}} for key in ("importance", "beeswarm", "dependence-income", "pdp-income", "waterfall-3")}
    presentation.name_explained_output(figures, output, output_space="log_odds")
    assert all("explains default_probability = P(default = 1)" in f["layout"]["title"]["text"] for f in figures.values())
    assert figures["pdp-income"]["layout"]["yaxis"]["title"]["text"] == "average default_probability"
    assert figures["beeswarm"]["layout"]["xaxis"]["title"]["text"] == "SHAP value: contribution to default_probability (in log-odds)"
    assert figures["dependence-income"]["layout"]["yaxis"]["title"]["text"] == "SHAP value: contribution to default_probability (in log-odds)"

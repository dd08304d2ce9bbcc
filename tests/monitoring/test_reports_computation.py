"""The pure computation modules checked against direct calls of the libraries
(fairlearn MetricFrame, shap, LightGBM's own contributions, scipy), never against
a re-derivation by the same code."""

import math

import numpy as np
import pandas as pd
import pytest

from monitoring.reports import drift, explain, fairness
from monitoring.reports.loading import LoadedModel, ReportInputError, check_columns, load_model, read_verified
from tests.monitoring.reports_data import (
    FEATURES,
    credit_frame,
    pickled,
    train_lightgbm,
    train_sklearn,
    train_sklearn_linear,
)


@pytest.fixture(scope="module")
def frame():
    return credit_frame(2000, seed=1)


@pytest.fixture(scope="module")
def predictions(frame):
    rng = np.random.default_rng(3)
    y_true = frame["approved"].to_numpy()
    y_pred = np.where(rng.uniform(size=len(frame)) < 0.8, y_true, 1 - y_true)
    return y_true, y_pred


def _by_name(grouping):
    return {tuple(g["values"].values()): g["metrics"] for g in grouping["groups"]}


def test_it_matches_fairlearn_metricframe_per_group_and_intersection(frame, predictions):
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, precision_score

    y_true, y_pred = predictions
    result = fairness.fairness_report(frame[["gender", "age_band"]], y_true=y_true, y_pred=y_pred, task="classification", params={})
    metrics = {"count": count, "selection_rate": selection_rate, "accuracy": accuracy_score, "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate, "precision": precision_score}
    for grouping in result["groupings"]:
        columns = grouping["sensitive_features"]
        oracle = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=frame[columns])
        ours = _by_name(grouping)
        assert len(ours) == len(oracle.by_group)
        for key, row in oracle.by_group.iterrows():
            key = key if isinstance(key, tuple) else (key,)
            for name in metrics:
                assert ours[key][name] == pytest.approx(float(row[name]), abs=1e-9), (columns, key, name)
        # Disparities: fairlearn's own functions on the same grouping.
        dp = oracle.difference(method="between_groups")["selection_rate"]
        assert grouping["disparities"]["demographic_parity_difference"] == pytest.approx(dp, abs=1e-9)
        assert grouping["disparities"]["demographic_parity_ratio"] == pytest.approx(oracle.ratio(method="between_groups")["selection_rate"], abs=1e-9)


def test_it_matches_fairlearns_disparity_functions_on_the_intersection(frame, predictions):
    from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference

    y_true, y_pred = predictions
    sensitive = frame[["gender", "age_band"]]
    result = fairness.fairness_report(sensitive, y_true=y_true, y_pred=y_pred, task="classification", params={})
    intersection = result["groupings"][-1]["disparities"]
    assert intersection["demographic_parity_difference"] == pytest.approx(demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive), abs=1e-9)
    assert intersection["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(y_true, y_pred, sensitive_features=sensitive), abs=1e-9)
    assert intersection["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y_true, y_pred, sensitive_features=sensitive), abs=1e-9)


def test_it_matches_fairlearn_for_regression_errors(frame):
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    rng = np.random.default_rng(0)
    y_true = frame["income"].to_numpy()
    y_pred = y_true + rng.normal(0, 3, len(frame))
    result = fairness.fairness_report(frame[["gender"]], y_true=y_true, y_pred=y_pred, task="regression", params={})
    oracle = MetricFrame(metrics={"mae": mean_absolute_error, "rmse": root_mean_squared_error}, y_true=y_true, y_pred=y_pred, sensitive_features=frame["gender"])
    ours = _by_name(result["groupings"][0])
    for key, row in oracle.by_group.iterrows():
        assert ours[(key,)]["mean_absolute_error"] == pytest.approx(row["mae"], abs=1e-9)
        assert ours[(key,)]["root_mean_squared_error"] == pytest.approx(row["rmse"], abs=1e-9)
    assert result["verdict"] == "not_applicable"


def test_it_puts_a_wilson_interval_beside_every_rate():
    # Closed-form Wilson score interval, written out independently of scipy.
    def wilson(k, n, z=1.959963984540054):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    low, high = fairness.wilson_interval(17, 60, 0.95)
    assert (low, high) == pytest.approx(wilson(17, 60), abs=1e-9)


def test_it_never_fails_the_four_fifths_rule_on_a_group_below_min_group_n():
    n = 3000
    rng = np.random.default_rng(0)
    gender = np.array(["a"] * 1500 + ["b"] * 1450 + ["tiny"] * 50)
    y_pred = np.concatenate([rng.uniform(size=1500) < 0.5, rng.uniform(size=1450) < 0.48, np.zeros(50, dtype=bool) | (np.arange(50) < 5)]).astype(int)
    y_true = rng.integers(0, 2, n)
    result = fairness.fairness_report(pd.DataFrame({"g": gender}), y_true=y_true, y_pred=y_pred, task="classification", params={"min_group_n": 100})
    ff = result["groupings"][0]["four_fifths"]
    assert ff["verdict"] == "needs_review"
    assert ff["failing_groups"] == [] and ff["review_groups"] == ["g=tiny"]
    assert "g=tiny" in result["flagged_groups"]


def test_it_fails_the_four_fifths_rule_for_a_large_group_selected_far_less():
    rng = np.random.default_rng(0)
    g = np.array(["a"] * 1000 + ["b"] * 1000)
    y_pred = np.concatenate([rng.uniform(size=1000) < 0.6, rng.uniform(size=1000) < 0.3]).astype(int)
    result = fairness.fairness_report(pd.DataFrame({"g": g}), y_true=rng.integers(0, 2, 2000), y_pred=y_pred, task="classification", params={})
    assert result["verdict"] == "fail"
    assert result["groupings"][0]["four_fifths"]["failing_groups"] == ["g=b"]


def test_it_flags_groups_far_from_their_reference_share(frame, predictions):
    y_true, y_pred = predictions
    reference = pd.DataFrame({"gender": ["female"] * 800 + ["male"] * 200})
    result = fairness.fairness_report(frame[["gender"]], y_true=y_true, y_pred=y_pred, task="classification", params={}, reference_sensitive=reference)
    flags = {g["group"]: g["flags"] for g in result["groupings"][0]["groups"]}
    assert "far_from_reference_share" in flags["gender=male"]
    assert "far_from_reference_share" not in flags["gender=female"]


def test_it_matches_scipy_for_each_drift_test():
    from scipy import stats
    from scipy.spatial import distance

    ref = credit_frame(800, seed=1)
    cur = credit_frame(700, seed=2, shift=0.6)
    report = drift.drift_report(ref, cur, features=["income", "debt_ratio", "gender"], params={})
    by = {r["feature"]: r for r in report["features"]}
    ks = stats.ks_2samp(ref["income"], cur["income"])
    assert by["income"]["test"] == "ks" and by["income"]["p_value"] == pytest.approx(ks.pvalue, rel=1e-12)
    assert by["income"]["drifted"] is True and by["debt_ratio"]["drifted"] is False
    table = pd.crosstab(pd.concat([ref["gender"], cur["gender"]]), np.r_[np.zeros(len(ref)), np.ones(len(cur))]).T.to_numpy()
    assert by["gender"]["test"] == "chisquare"
    assert by["gender"]["p_value"] == pytest.approx(stats.chi2_contingency(table).pvalue, rel=1e-12)

    big_ref, big_cur = credit_frame(3000, seed=3), credit_frame(3000, seed=4, shift=0.3)
    big = {r["feature"]: r for r in drift.drift_report(big_ref, big_cur, features=["income", "age_band"], params={})["features"]}
    assert big["income"]["test"] == "wasserstein"
    assert big["income"]["statistic"] == pytest.approx(stats.wasserstein_distance(big_ref["income"], big_cur["income"]) / np.std(big_ref["income"]), rel=1e-12)
    shares = [big_ref["age_band"].value_counts(normalize=True).sort_index(), big_cur["age_band"].value_counts(normalize=True).sort_index()]
    assert big["age_band"]["statistic"] == pytest.approx(distance.jensenshannon(shares[0], shares[1], base=2), rel=1e-9)


def test_it_computes_psi_on_reference_deciles_with_levels_and_overrides():
    rng = np.random.default_rng(0)
    ref = pd.Series(rng.normal(0, 1, 5000))
    cur = pd.Series(rng.normal(0.5, 1, 5000))
    edges = np.quantile(ref, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(ref, edges)[0] / 5000
    c = np.histogram(cur, edges)[0] / 5000
    expected = float(np.sum((c - r) * np.log(c / r)))
    row = drift.feature_drift("x", ref, cur, {**drift.DEFAULTS})
    assert row["psi"] == pytest.approx(expected, rel=1e-12)
    assert row["psi_level"] == "fail"
    relaxed = drift.feature_drift("x", ref, cur, {**drift.DEFAULTS, "per_feature": {"x": {"psi_warn": 0.5, "psi_fail": 0.9, "threshold": 0.9}}})
    assert relaxed["verdict"] == "pass"


@pytest.fixture(scope="module")
def lgb(frame):
    booster, _ = train_lightgbm(frame)
    return booster


def test_it_gives_lightgbm_shap_values_equal_to_shap_and_to_lightgbms_own_contributions(frame, lgb):
    import shap

    model = LoadedModel(lgb, "lightgbm", "classification", FEATURES)
    X = frame[FEATURES].iloc[:300]
    info = explain.build_explainer(model, frame[FEATURES], params={}, seed=0)
    values, base, gap, _ = explain.explain_rows(info, X, chunk_rows=70)
    direct = shap.TreeExplainer(lgb).shap_values(X)
    direct = direct[1] if isinstance(direct, list) else direct
    np.testing.assert_allclose(values, direct, atol=1e-9)
    native = lgb.predict(X, pred_contrib=True)
    np.testing.assert_allclose(values, native[:, :-1], atol=1e-9)
    assert base == pytest.approx(native[0, -1], abs=1e-9)
    assert gap is None


def test_it_explains_in_chunks_with_the_same_values_as_one_direct_call(frame):
    import shap

    sk, _ = train_sklearn(frame)
    model = LoadedModel(sk, "sklearn", "classification", FEATURES)
    X = frame[FEATURES].iloc[:400]
    info = explain.build_explainer(model, frame[FEATURES], params={}, seed=0)
    values, base, _, how = explain.explain_rows(info, X, chunk_rows=100)
    assert how == {"chunks": 4, "chunk_rows": 100}
    np.testing.assert_allclose(values, shap.TreeExplainer(sk).shap_values(X), atol=1e-9)


def test_it_gives_each_row_the_same_model_agnostic_values_however_the_rows_are_chunked(frame):
    sk, _ = train_sklearn_linear(frame)
    model = LoadedModel(sk, "sklearn", "classification", FEATURES)
    X = frame[FEATURES].iloc[:30]
    info = explain.build_explainer(model, frame[FEATURES], params={"background_size": 20}, seed=3)
    whole, _, _, _ = explain.explain_rows(info, X, chunk_rows=30, max_evals=40)
    # A chunk explained by another process rebuilds the explainer from the stored background.
    stored = explain.frame_from_bytes(explain.frame_to_bytes(info.background))
    rebuilt = explain.build_explainer(model, None, params={"background_size": 20}, seed=3, background=stored)
    pieces = [explain.explain_chunk(rebuilt, explain.frame_from_bytes(explain.frame_to_bytes(X.iloc[a:b])), 1, 40)
              for a, b in explain.chunk_bounds(len(X), 7)][::-1]  # any order
    chunked = np.concatenate([p.values for p in pieces[::-1]])
    np.testing.assert_array_equal(chunked, whole)
    assert not np.allclose(whole[0], whole[1])  # rows differ: the seed is per row, not one draw for all


def test_it_uses_a_sampled_model_agnostic_explainer_for_linear_models_and_records_the_background(frame):
    sk, _ = train_sklearn_linear(frame)
    model = LoadedModel(sk, "sklearn", "classification", FEATURES)
    out = explain.explainability_report(model, frame, label=frame["approved"].to_numpy(), params={"sample_size": 60, "background_size": 40, "top_features": 1},
                                        seed=5, chunk_rows=1000, progress=lambda p: None)
    assert out["results"]["explainer"]["name"] == "permutation"
    assert out["results"]["explainer"]["background_size"] == 40
    assert out["sample_sizes"]["explained_rows"] == 60
    # Local accuracy: base + Σ SHAP = the predicted probability for each explained row.
    rows = out["sample_rows"]
    predicted = sk.predict_proba(frame[FEATURES].iloc[rows])[:, 1]
    np.testing.assert_allclose(out["values"].sum(axis=1) + out["results"]["base_value"], predicted, atol=1e-6)


def test_it_normalises_every_shap_output_shape_in_one_adapter():
    values = np.arange(12, dtype=float).reshape(3, 4)
    as_list, base = explain.normalise_output([-values, values], np.array([0.1, -0.1]), 1, 3, 4)
    np.testing.assert_array_equal(as_list, values)
    assert base == -0.1
    stacked, base = explain.normalise_output(np.stack([-values, values], axis=2), [0.2, 0.8], 1, 3, 4)
    np.testing.assert_array_equal(stacked, values)
    assert base == 0.8
    plain, base = explain.normalise_output(values, np.array([0.3]), 1, 3, 4)
    assert base == 0.3
    per_row, base = explain.normalise_output(values, np.full(3, 0.4), 1, 3, 4, per_row_base=True)
    assert base == 0.4


def test_it_refuses_interventional_shap_for_trees_over_32767_nodes():
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(20000, 3)), columns=["a", "b", "c"])
    tree = DecisionTreeRegressor(random_state=0).fit(X, rng.normal(size=20000))
    assert tree.tree_.node_count > 32767
    model = LoadedModel(tree, "sklearn", "regression", ["a", "b", "c"])
    with pytest.raises(ReportInputError, match="32767"):
        explain.build_explainer(model, X, params={"feature_perturbation": "interventional"}, seed=0)


def test_it_answers_what_if_with_both_predictions_and_shap_values(frame, lgb):
    model = LoadedModel(lgb, "lightgbm", "classification", FEATURES)
    row = frame[FEATURES].iloc[0].to_dict()
    out = explain.what_if(model, row, {"debt_ratio": 0.99}, background=frame[FEATURES], params={}, seed=0)
    assert out["original"]["row"]["debt_ratio"] == pytest.approx(row["debt_ratio"])
    assert out["changed"]["row"]["debt_ratio"] == 0.99
    expected = lgb.predict(pd.DataFrame([row, {**row, "debt_ratio": 0.99}])[FEATURES])
    assert [out["original"]["prediction"], out["changed"]["prediction"]] == pytest.approx(list(expected))
    assert out["changed"]["shap"]["debt_ratio"] < out["original"]["shap"]["debt_ratio"]


def test_it_refuses_pickle_unless_allowed(frame):
    sk, _ = train_sklearn(frame)
    data = pickled(sk)
    with pytest.raises(ReportInputError, match="MODELGATE_ALLOW_PICKLE is false"):
        load_model(data, path="model/model.joblib", framework="sklearn", task="classification", allow_pickle=False)
    loaded = load_model(data, path="model/model.joblib", framework="sklearn", task="classification", allow_pickle=True)
    assert loaded.predict_score(frame.iloc[:5]).shape == (5,)


def test_it_refuses_bytes_that_do_not_match_the_recorded_hash():
    import io

    with pytest.raises(ReportInputError, match="does not match its recorded SHA-256"):
        read_verified(io.BytesIO(b"tampered"), "0" * 64)


def test_it_names_the_file_when_a_model_file_is_corrupt():
    with pytest.raises(ReportInputError, match="model/model.txt: the model file could not be read as a lightgbm model"):
        load_model(b"tree\nnot really a model", path="model/model.txt", framework="lightgbm", task="classification", allow_pickle=False)


def test_it_refuses_skops_files_with_types_outside_sklearn(frame):
    import skops.io

    data = skops.io.dumps({"model": train_sklearn(frame)[0], "extra": pd.Timestamp("2024-01-01")})
    with pytest.raises(ReportInputError, match="types outside scikit-learn"):
        load_model(data, path="model/model.skops", framework="sklearn", task="classification", allow_pickle=False)


def test_it_names_missing_and_unknown_columns():
    df = pd.DataFrame({"income": [1.0], "approved": [1]})
    roles = {"features": ["income", "tenure"], "label": "approved", "prediction": None, "sensitive": ["gender"]}
    with pytest.raises(ReportInputError, match="missing from the file: tenure, gender"):
        check_columns(df, roles=roles, schema_format="json_schema", input_schema=None, name="dataset d")
    df = pd.DataFrame({"income": [1.0], "shoe_size": [3], "approved": [1]})
    roles = {"features": ["income", "shoe_size"], "label": "approved", "prediction": None, "sensitive": []}
    with pytest.raises(ReportInputError, match="not in the version's input schema: shoe_size"):
        check_columns(df, roles=roles, schema_format="json_schema", input_schema={"properties": {"income": {}}}, name="dataset d")


def test_it_draws_partial_dependence_for_integer_columns_with_scikit_learn(frame):
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.linear_model import LogisticRegression

    X = frame[FEATURES].astype({"age_years": "int64"})
    sk = LogisticRegression(max_iter=500).fit(X, frame["approved"])
    model = LoadedModel(sk, "sklearn", "classification", FEATURES)
    curve = explain.partial_dependence(model, X, "age_years", grid=5, rows=300, seed=0)
    oracle = sk_pd(sk, X.sample(n=300, random_state=0).astype({"age_years": "float64"}), ["age_years"], grid_resolution=5, response_method="predict_proba", method="brute")
    assert curve["average"] == pytest.approx(list(oracle["average"][0]), abs=1e-12)


def test_it_loads_an_xgboost_json_model_and_matches_xgboosts_own_contributions(frame):
    import xgboost

    dtrain = xgboost.DMatrix(frame[FEATURES], label=frame["approved"])
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, dtrain, num_boost_round=20)
    data = booster.save_raw(raw_format="json")
    model = load_model(bytes(data), path="model/model.json", framework="xgboost", task="classification", allow_pickle=False)
    X = frame[FEATURES].iloc[:200]
    np.testing.assert_allclose(model.predict_score(X), booster.predict(xgboost.DMatrix(X)), atol=1e-7)
    info = explain.build_explainer(model, frame[FEATURES], params={}, seed=0)
    values, base, _, _ = explain.explain_rows(info, X)
    native = booster.predict(xgboost.DMatrix(X), pred_contribs=True)
    np.testing.assert_allclose(values, native[:, :-1], atol=1e-5)
    assert base == pytest.approx(float(native[0, -1]), abs=1e-5)


def test_it_retries_a_failed_additivity_check_without_it_and_records_the_largest_gap():
    # A stand-in for shap's explainer (third-party), failing its additivity check the way shap does.
    class Ensemble:
        @staticmethod
        def predict(X):
            return np.linspace(1.0, 1.3, len(X))

    class FlakyExplainer:
        expected_value = np.array([0.5])
        model = Ensemble()
        calls = []

        def shap_values(self, X, check_additivity=True):
            self.calls.append(check_additivity)
            if check_additivity:
                raise RuntimeError("Additivity check failed in TreeExplainer! Please ensure the data matrix…")
            return np.full((len(X), X.shape[1]), 0.1)

    info = explain.ExplainerInfo(FlakyExplainer(), "tree", "tree_path_dependent", "log_odds", None, None)
    X = pd.DataFrame(np.zeros((4, 3)), columns=["a", "b", "c"])
    values, base, gap, _ = explain.explain_rows(info, X, chunk_rows=2)

    assert FlakyExplainer.calls == [True, False, True, False]
    np.testing.assert_allclose(values, 0.1)
    assert base == 0.5
    assert gap == pytest.approx(1.3 - 0.8)  # the last row of the last chunk: |0.5 + 0.3 − 1.3|

"""The explanation-sign test: one model, one explained output.

On the demo's credit models (trained by the demo's own code: a logistic regression on
repayment outcomes, and the one on biased past approvals), the explainability report's SHAP
values, its partial-dependence curves and a what-if all explain the probability of default —
``default_probability = P(default = 1)``, as the version's output schema names it — and agree in
sign for every feature: where raising a feature raises the average prediction, its SHAP values
rise with it and a what-if that raises it raises the prediction. The fairness report keeps its
own favourable outcome (default = 0, repays). Computed through the real job handlers, in-process.
"""

import numpy as np
import pytest

from modelgate.core.models import Job
from monitoring.demo import _credit_frames
from monitoring.models import Report
from monitoring.services import reports as services
from registry import demo as registry_demo
from registry.choices import Framework
from tests.monitoring.conftest import add_artifact, make_version

pytestmark = pytest.mark.django_db

# The demo's explainability parameters (monitoring/demo.py, small datasets).
PARAMS = {"sample_size": 50, "background_size": 50, "pdp_rows": 200}


@pytest.fixture(scope="module")
def trained():
    """The demo's two credit-scorer models (v1: biased history, v2: repayment outcomes), small as the tests seed them."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MODELGATE_DEMO_SMALL", "1")
    try:
        models = {1: registry_demo._train(1, biased_history=True)[0], 2: registry_demo._train(2, biased_history=False)[0]}
        holdout, reference = _credit_frames(registry_demo.demo_rows(1500, 600))
    finally:
        mp.undo()
    return models, holdout, reference


def _demo_version(trained, number, team, user):
    models, holdout, reference = trained
    version = make_version(team=team, name=f"credit-scorer-v{number}", framework=Framework.SKLEARN, input_schema=registry_demo.INPUT_SCHEMA, user=user)
    version.output_schema = registry_demo.OUTPUT_SCHEMA
    version.save(update_fields=["output_schema"])
    add_artifact(version, "model/model.skops", models[number])
    dataset = services.evaluationdataset_attach(
        user=user, version=version, name="holdout", feature_columns=registry_demo.FEATURES, label_column="default",
        sensitive_columns=["gender", "age_band"], positive_label=0, positive_label_meaning="repays",
        chunks=[holdout.to_csv(index=False).encode()], reference_chunks=[reference.to_csv(index=False).encode()],
    )
    return version, dataset, holdout


def _sign(value: float, tolerance: float) -> int:
    return 0 if abs(value) <= tolerance else int(np.sign(value))


@pytest.mark.parametrize("number", [1, 2])
def test_shap_partial_dependence_and_what_if_agree_in_sign_on_the_demo_credit_models(
    number, trained, team_credit, ds_owner, run_jobs_inline, django_capture_on_commit_callbacks
):
    version, dataset, holdout = _demo_version(trained, number, team_credit, ds_owner)
    with django_capture_on_commit_callbacks(execute=True):
        services.report_request(user=ds_owner, version=version, dataset=dataset, kind="explainability", parameters=PARAMS)
        services.report_request(user=ds_owner, version=version, dataset=dataset, kind="fairness")
    report = Report.objects.get(version=version, kind="explainability")
    assert report.status == "succeeded", report.error
    explained = "default_probability = P(default = 1)"
    assert report.results["explained_output"]["text"] == explained
    fairness = Report.objects.get(version=version, kind="fairness")
    assert fairness.results["favourable_outcome"]["text"] == "selected = predicted default = 0, i.e. repays"
    assert fairness.verdict == ("fail" if number == 1 else "pass")  # selections still count predicted repayments

    pdp = {curve["feature"]: curve for curve in report.results["partial_dependence"]}
    row = 0
    checked = []
    for feature in registry_demo.FEATURES:
        # Partial dependence: the average predicted default probability, from the lowest grid value to the highest.
        curve = pdp[feature]["average"]
        pdp_sign = _sign(curve[-1] - curve[0], 1e-3)
        # SHAP: do a feature's SHAP values rise or fall with the feature (the dependence plot's trend)?
        dependence = report.figures[f"dependence-{feature}"]["data"][0]
        shap_sign = _sign(float(np.corrcoef(dependence["x"], dependence["y"])[0, 1]), 0.1)
        # What-if: raise the feature by one standard deviation on one row of the holdout.
        raised = float(holdout[feature].iloc[row] + holdout[feature].std())
        with django_capture_on_commit_callbacks(execute=True):
            job = services.whatif_request(user=ds_owner, version=version, dataset=dataset, changes={feature: raised}, row_index=row)
        result = Job.objects.get(pk=job.pk).result
        assert result["explained_output"]["text"] == explained
        whatif_sign = _sign(result["prediction_change"], 1e-4)
        shap_change_sign = _sign(result["changed"]["shap"][feature] - result["original"]["shap"][feature], 1e-4)
        signs = {"partial dependence": pdp_sign, "SHAP dependence": shap_sign, "what-if prediction": whatif_sign, "what-if SHAP": shap_change_sign}
        if pdp_sign:  # a feature the model barely uses has no sign to agree on
            assert set(signs.values()) == {pdp_sign}, (number, feature, signs)
            checked.append(feature)
    # Raising income lowers the probability of default; raising the debt ratio raises it.
    assert {"income", "debt_ratio"} <= set(checked)
    assert np.sign(pdp["income"]["average"][-1] - pdp["income"]["average"][0]) == -1
    assert np.sign(pdp["debt_ratio"]["average"][-1] - pdp["debt_ratio"]["average"][0]) == 1
    # The explained output is named on every explanation chart.
    for key, figure in report.figures.items():
        assert explained in figure["layout"]["title"]["text"], key


@pytest.mark.parametrize("kind", ["skops", "lightgbm"])
def test_it_outputs_the_positive_class_and_counts_the_favourable_one_for_fairness(kind):
    """A favourable label of 0 (repays) changes what fairness counts as selected, never which
    probability the model outputs and its explanations explain (the positive class, label 1)."""
    from monitoring.reports.loading import load_model
    from tests.monitoring.reports_data import FEATURES, credit_frame, train_lightgbm, train_sklearn_linear

    frame = credit_frame(400, seed=5)
    raw, data = train_sklearn_linear(frame) if kind == "skops" else train_lightgbm(frame, rounds=10)
    path, framework = ("model.skops", "sklearn") if kind == "skops" else ("model.txt", "lightgbm")
    for favourable, favourable_is_positive in ((1, True), (0, False)):
        model = load_model(data, path=path, framework=framework, task="classification", allow_pickle=False, positive_label=favourable)
        assert (model.positive_index, model.positive_class, model.favourable_is_positive) == (1, 1, favourable_is_positive)
        X = frame[FEATURES]
        p1 = raw.predict_proba(X)[:, 1] if kind == "skops" else raw.predict(X)
        np.testing.assert_allclose(model.predict_score(X), p1)  # always P(label = 1)
        np.testing.assert_array_equal(model.predict_label(X), ((p1 if favourable else 1 - p1) >= 0.5).astype(np.int8))

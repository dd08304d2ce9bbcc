"""Demo world, registry part: datasets, a training run, models with versions and
real artifacts (a small scikit-learn model saved with skops, its scoring code
and sample rows), registered through the same services as the API. Idempotent.

scikit-learn and skops are imported inside the function: this runs in the
``seed_demo`` command, never in the web process.
"""

from __future__ import annotations

import csv
import io
import os

from django.contrib.auth import get_user_model

from registry import services
from registry.models import RegisteredModel

FEATURES = ["income", "debt_ratio", "employment_gap_months"]
SENSITIVE = ["gender", "age_band"]
INPUT_SCHEMA = {
    "type": "object",
    "required": FEATURES,
    "properties": {f: {"type": "number", "minimum": 0} for f in FEATURES},
}
OUTPUT_SCHEMA = {"type": "object", "properties": {"default_probability": {"type": "number", "minimum": 0, "maximum": 1}}}
SCORE_PY = b'''"""Scoring entry point: score.py:predict(rows) -> probabilities of default."""
FEATURES = ["income", "debt_ratio", "employment_gap_months"]


def predict(model, rows):
    return [p[1] for p in model.predict_proba([[row[f] for f in FEATURES] for row in rows])]
'''


def demo_rows(full: int, small: int) -> int:
    """Rows for a demo dataset: ``MODELGATE_DEMO_SMALL=1`` (tests) shrinks every dataset."""
    return small if os.environ.get("MODELGATE_DEMO_SMALL", "").lower() in ("1", "true") else full


def credit_frame(n: int, *, seed: int, biased_history: bool, income_shift: float = 0.0) -> dict:
    """Synthetic loan applications, deterministic for a seed (numpy's PCG64), no download.

    Women have longer employment gaps (career breaks); the true default risk
    does not depend on the gap. ``biased_history`` labels rows with past
    approval decisions that penalised gaps, so a model trained on them learns
    to refuse women more often: the four-fifths rule catches it.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male"], n, p=[0.48, 0.52])
    age_band = rng.choice(["18-29", "30-59", "60+"], n, p=[0.3, 0.5, 0.2])
    income = rng.gamma(4.0, 12_000, n) * (1 + income_shift)
    debt = rng.beta(2, 5, n)
    gap = np.where(gender == "female", rng.exponential(20, n), rng.exponential(4, n))
    logit = -0.3 + 4.0 * (debt - 0.29) - (income - 48_000) / 25_000
    if biased_history:
        logit = logit + 0.09 * (gap - 8)
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return {"income": income.round(2), "debt_ratio": debt.round(4), "employment_gap_months": gap.round(1),
            "gender": gender, "age_band": age_band, "default": default}


def frame_csv(frame: dict) -> bytes:
    columns = list(frame)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in zip(*(frame[c] for c in columns), strict=True):
        writer.writerow([v.item() if hasattr(v, "item") else v for v in row])
    return out.getvalue().encode()


def _train(seed: int, *, biased_history: bool):
    import pandas as pd
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    train = credit_frame(demo_rows(4000, 1500), seed=seed, biased_history=biased_history)
    # Fitted on a frame so the model knows its feature names (reports predict from frames).
    model = LogisticRegression(max_iter=1000).fit(pd.DataFrame({f: train[f] for f in FEATURES}), train["default"])
    # Validated on observed repayment outcomes, whatever labels the model was trained on.
    check = credit_frame(demo_rows(2000, 600), seed=99, biased_history=False)
    auc = float(roc_auc_score(check["default"], model.predict_proba(pd.DataFrame({f: check[f] for f in FEATURES}))[:, 1]))
    sample = {k: v[:200] for k, v in check.items()}
    return skops.io.dumps(model), frame_csv(sample), auc


def _register(user, model, *, seed, dataset_version, run=None, parents=None, description="", biased_history=False):
    key = f"demo-{model.name}-{seed}"
    done = model.versions.filter(idempotency_key=key, status="ready").first()
    if done is not None:
        return done  # seeded before: skip the training
    import sklearn

    model_bytes, sample_csv, auc = _train(seed, biased_history=biased_history)
    version, _ = services.modelversion_register(
        user=user, registered_model=model, idempotency_key=key,
        framework="sklearn", metrics={"auc": round(auc, 4)}, params={"C": 1.0, "max_iter": 1000, "labels": "past approvals" if biased_history else "repayment outcomes"},
        input_schema=INPUT_SCHEMA, output_schema=OUTPUT_SCHEMA,
        signature_sample={"income": 52000.0, "debt_ratio": 0.31, "employment_gap_months": 3.0},
        environment={"python": "3.11", "packages": [f"scikit-learn=={sklearn.__version__}", "skops==0.16.0"]},
        entry_point="score.py:predict",
        serving={"mode": "batch", "input": {"type": "s3", "location": "s3://demo-in/loans/", "format": "parquet"},
                 "output": {"type": "s3", "location": "s3://demo-out/scores/", "format": "parquet"}},
        source_repository="https://git.example.com/credit/scorer", source_commit=f"{seed:040x}"[-40:],
        training_run=run, trained_on=[dataset_version], parents=parents or [], description=description,
    )
    if version.status == "pending_upload":
        for path, data, kind in (("model/model.skops", model_bytes, "model"), ("code/score.py", SCORE_PY, "code"),
                                 ("data/sample.csv", sample_csv, "sample")):
            if not version.artifacts.filter(path=path).exists():
                services.artifact_upload(user=user, version=version, path=path, chunks=[data], kind=kind)
        version = services.modelversion_finalize(user=user, version=version)
    return version


def seed(stdout, context):
    teams = context["teams"]
    User = get_user_model()
    dana, otto = User.objects.get(username="dana"), User.objects.get(username="otto")
    models, versions = {}, {}

    scorer = RegisteredModel.objects.filter(name="credit-scorer").first() or services.registered_model_create(
        user=dana, name="credit-scorer", team=teams["credit"], description="Probability of default for consumer loans.",
        tags={"domain": "lending"},
    )
    loans = teams["credit"].datasets.filter(name="loans").first() or services.dataset_create(user=dana, name="loans", team=teams["credit"])
    jan = loans.versions.filter(version="2026-01").first() or services.datasetversion_create(
        user=dana, dataset=loans, version="2026-01", uri="s3://demo-data/loans/2026-01.parquet", row_count=600,
        schema=INPUT_SCHEMA,
    )
    jun = loans.versions.filter(version="2026-06").first() or services.datasetversion_create(
        user=dana, dataset=loans, version="2026-06", uri="s3://demo-data/loans/2026-06.parquet", row_count=600,
        schema=INPUT_SCHEMA,
    )
    run = teams["credit"].training_runs.filter(external_id="demo-run-2").first() or services.trainingrun_create(
        user=dana, team=teams["credit"], external_id="demo-run-2", code_repository="https://git.example.com/credit/scorer",
        commit="2" * 40, params={"C": 1.0}, environment={"python": "3.11"},
    )
    # v1 learnt from past approval decisions (which penalised career breaks); v2 from repayment outcomes.
    v1 = _register(dana, scorer, seed=1, dataset_version=jan, biased_history=True,
                   description="Logistic regression trained on 2019-2025 approval decisions.")
    v2 = _register(dana, scorer, seed=2, dataset_version=jun, run=run, parents=[(v1, "retrain")],
                   description="Retrained on observed repayment outcomes: employment gaps no longer penalised.")
    models["credit-scorer"], versions["credit-scorer"] = scorer, [v1, v2]

    fraud = RegisteredModel.objects.filter(name="fraud-detector").first() or services.registered_model_create(
        user=otto, name="fraud-detector", team=teams["fraud"], description="Card fraud score (private to the fraud team).",
    )
    cards = teams["fraud"].datasets.filter(name="cards").first() or services.dataset_create(user=otto, name="cards", team=teams["fraud"])
    cards_v = cards.versions.filter(version="2026-05").first() or services.datasetversion_create(user=otto, dataset=cards, version="2026-05")
    models["fraud-detector"], versions["fraud-detector"] = fraud, [_register(otto, fraud, seed=7, dataset_version=cards_v)]

    mara = User.objects.get(username="mara")
    offers = RegisteredModel.objects.filter(name="card-offer-response").first() or services.registered_model_create(
        user=mara, name="card-offer-response", team=teams["marketing"], description="Propensity to accept a credit-card offer.",
        tags={"domain": "marketing"},
    )
    leads = teams["marketing"].datasets.filter(name="leads").first() or services.dataset_create(user=mara, name="leads", team=teams["marketing"])
    leads_v = leads.versions.filter(version="2026-04").first() or services.datasetversion_create(user=mara, dataset=leads, version="2026-04")
    models["card-offer-response"], versions["card-offer-response"] = offers, [_register(mara, offers, seed=11, dataset_version=leads_v)]

    stdout.write("\nRegistry: credit-scorer v1 (trained on biased past decisions), v2 (retrained on outcomes); "
                 "fraud-detector (fraud team only); card-offer-response (marketing).\n")
    context.update({"models": models, "versions": versions})
    return context

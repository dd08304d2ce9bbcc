"""Demo world, registry part: datasets, a training run, models with versions and
real artifacts (a small scikit-learn model saved with skops, its scoring code
and sample rows), registered through the same services as the API. Idempotent.

scikit-learn and skops are imported inside the function: this runs in the
``seed_demo`` command, never in the web process.
"""

from __future__ import annotations

import csv
import io

from django.contrib.auth import get_user_model

from registry import services
from registry.models import RegisteredModel

FEATURES = ["income", "debt_ratio", "age"]
INPUT_SCHEMA = {
    "type": "object",
    "required": FEATURES,
    "properties": {"income": {"type": "number", "minimum": 0}, "debt_ratio": {"type": "number", "minimum": 0}, "age": {"type": "integer", "minimum": 18}},
}
OUTPUT_SCHEMA = {"type": "object", "properties": {"default_probability": {"type": "number", "minimum": 0, "maximum": 1}}}
SCORE_PY = b'''"""Scoring entry point: score.py:predict(rows) -> probabilities."""
FEATURES = ["income", "debt_ratio", "age"]


def predict(model, rows):
    return [p[1] for p in model.predict_proba([[row[f] for f in FEATURES] for row in rows])]
'''


def _train(seed: int, n: int = 600):
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    income = rng.gamma(4.0, 12_000, n)
    debt = rng.beta(2, 5, n)
    age = rng.integers(18, 80, n)
    logit = -1.5 + 3.5 * debt - income / 60_000 + (age < 25) * 0.6
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = np.column_stack([income, debt, age])
    model = LogisticRegression(max_iter=500).fit(X[: n // 2], y[: n // 2])
    auc = float(roc_auc_score(y[n // 2 :], model.predict_proba(X[n // 2 :])[:, 1]))
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow([*FEATURES, "default"])
    for i in range(n // 2, n):
        writer.writerow([round(float(income[i]), 2), round(float(debt[i]), 4), int(age[i]), int(y[i])])
    return skops.io.dumps(model), rows.getvalue().encode(), auc


def _register(user, model, *, seed, dataset_version, run=None, parents=None, description=""):
    key = f"demo-{model.name}-{seed}"
    done = model.versions.filter(idempotency_key=key, status="ready").first()
    if done is not None:
        return done  # seeded before: skip the training
    import sklearn

    model_bytes, sample_csv, auc = _train(seed)
    version, _ = services.modelversion_register(
        user=user, registered_model=model, idempotency_key=key,
        framework="sklearn", metrics={"auc": round(auc, 4)}, params={"C": 1.0, "max_iter": 500},
        input_schema=INPUT_SCHEMA, output_schema=OUTPUT_SCHEMA,
        signature_sample={"income": 52000.0, "debt_ratio": 0.31, "age": 42},
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
    v1 = _register(dana, scorer, seed=1, dataset_version=jan, description="First logistic regression.")
    v2 = _register(dana, scorer, seed=2, dataset_version=jun, run=run, parents=[(v1, "retrain")], description="Retrained on June data.")
    if not scorer.aliases.filter(alias="champion").exists():
        services.alias_set(user=dana, registered_model=scorer, alias="champion", version=v1)
    models["credit-scorer"], versions["credit-scorer"] = scorer, [v1, v2]

    fraud = RegisteredModel.objects.filter(name="fraud-detector").first() or services.registered_model_create(
        user=otto, name="fraud-detector", team=teams["fraud"], description="Card fraud score (private to the fraud team).",
    )
    cards = teams["fraud"].datasets.filter(name="cards").first() or services.dataset_create(user=otto, name="cards", team=teams["fraud"])
    cards_v = cards.versions.filter(version="2026-05").first() or services.datasetversion_create(user=otto, dataset=cards, version="2026-05")
    models["fraud-detector"], versions["fraud-detector"] = fraud, [_register(otto, fraud, seed=7, dataset_version=cards_v)]

    stdout.write("\nRegistry: credit-scorer v1 (champion), v2 (retrained); fraud-detector v1 (fraud team only).\n")
    context.update({"models": models, "versions": versions})
    return context

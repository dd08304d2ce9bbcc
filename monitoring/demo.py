"""Demo world, monitoring part (reports section): evaluation datasets with
sensitive columns, explainability / fairness / drift reports and model cards.

Two LightGBM loan-approval models are registered through the registry's
services: one trained on data where approvals lean on gender (through a proxy
feature) fails the four-fifths rule; the other passes. The credit scorer gets
an explainability report (model-agnostic explainer: it is a logistic
regression). numpy/pandas/lightgbm are imported inside the functions: this runs
in the ``seed_demo`` command, never in the web process. Idempotent.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from monitoring.models import EvaluationDataset, ModelCard
from monitoring.services import reports as services
from registry import services as registry_services
from registry.models import RegisteredModel

LOAN_FEATURES = ["income", "debt_ratio", "tenure"]
LOAN_SCHEMA = {"type": "object", "required": LOAN_FEATURES, "properties": {f: {"type": "number"} for f in LOAN_FEATURES}}


def _loan_frame(n: int, *, seed: int, biased: bool, shift: float = 0.0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male"], size=n, p=[0.45, 0.55])
    age_band = rng.choice(["<30", "30-60", ">60"], size=n, p=[0.3, 0.5, 0.2])
    income = rng.normal(50 + shift * 10, 10, n)
    debt = rng.uniform(0, 1, n)
    tenure = rng.normal(5, 2, n) + (np.where(gender == "male", 4.0, -4.0) if biased else 0.0)
    logit = 0.08 * (income - 50) - 2.0 * (debt - 0.5) + (0.9 * (tenure - 5) if biased else 0.05 * (tenure - 5))
    approved = (logit + rng.logistic(size=n) * 0.5 > 0).astype(int)
    return pd.DataFrame({"income": income, "debt_ratio": debt, "tenure": tenure, "gender": gender, "age_band": age_band, "approved": approved})


def _loan_model(user, team, name: str, *, biased: bool):
    import lightgbm

    model = RegisteredModel.objects.filter(name=name).first() or registry_services.registered_model_create(
        user=user, name=name, team=team, description=f"Loan approval ({'trained on biased history' if biased else 'fair'} demo).",
    )
    done = model.versions.filter(status="ready").first()
    if done is not None:
        return done
    train = _loan_frame(3000, seed=21, biased=biased)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": 0},
                             lightgbm.Dataset(train[LOAN_FEATURES], train["approved"]), num_boost_round=40)
    version, _ = registry_services.modelversion_register(
        user=user, registered_model=model, idempotency_key=f"demo-{name}", framework="lightgbm", input_schema=LOAN_SCHEMA,
        description="LightGBM, 40 trees.",
    )
    if version.status == "pending_upload":
        registry_services.artifact_upload(user=user, version=version, path="model/model.txt", chunks=[booster.model_to_string().encode()], kind="model")
        version = registry_services.modelversion_finalize(user=user, version=version)
    return version


def _dataset(user, version, frame, reference, *, features, sensitive, positive_label=1, label="approved"):
    existing = EvaluationDataset.objects.filter(version=version, name="holdout").first()
    if existing is not None:
        return existing
    return services.evaluationdataset_attach(
        user=user, version=version, name="holdout", feature_columns=features, label_column=label, sensitive_columns=sensitive,
        positive_label=positive_label, chunks=[frame.to_csv(index=False).encode()], reference_chunks=[reference.to_csv(index=False).encode()],
    )


def seed(stdout, context):
    dana = get_user_model().objects.get(username="dana")
    team = context["teams"]["credit"]
    lines = []
    for name, biased in (("loan-approval-fair", False), ("loan-approval-biased", True)):
        version = _loan_model(dana, team, name, biased=biased)
        dataset = _dataset(dana, version, _loan_frame(2000, seed=22, biased=biased), _loan_frame(2000, seed=23, biased=biased, shift=0.4),
                           features=LOAN_FEATURES, sensitive=["gender", "age_band"])
        for kind, params in (("fairness", {}), ("drift", {}), ("explainability", {"sample_size": 500})):
            report, _ = services.report_request(user=dana, version=version, dataset=dataset, kind=kind, parameters=params)
            lines.append(f"  {name} {kind}: /monitoring/reports/{report.pk}/")
        if not ModelCard.objects.filter(version=version).exists():
            services.modelcard_generate(user=dana, version=version)
    scorer_versions = (context.get("versions") or {}).get("credit-scorer") or []
    if scorer_versions:
        import numpy as np
        import pandas as pd

        version = scorer_versions[-1]
        rng = np.random.default_rng(5)
        n = 400
        frame = pd.DataFrame({"income": rng.gamma(4.0, 12_000, n).round(2), "debt_ratio": rng.beta(2, 5, n).round(4), "age": rng.integers(18, 80, n),
                              "gender": rng.choice(["female", "male"], n)})
        frame["default"] = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 3.5 * frame["debt_ratio"] - frame["income"] / 60_000)))).astype(int)
        dataset = _dataset(dana, version, frame, frame.sample(frac=1.0, random_state=1), features=["income", "debt_ratio", "age"],
                           sensitive=["gender"], positive_label=0, label="default")
        report, _ = services.report_request(user=dana, version=version, dataset=dataset, kind="explainability", parameters={"sample_size": 100})
        lines.append(f"  credit-scorer v{version.version} explainability: /monitoring/reports/{report.pk}/")
    stdout.write("\nMonitoring reports (computed by the worker; the biased loan model fails the four-fifths rule):\n" + "\n".join(lines) + "\n")
    return context

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

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from monitoring.choices import ReportStatus
from monitoring.models import EvaluationDataset, ModelCard, Report
from monitoring.services import reports as services
from registry import services as registry_services
from registry.demo import FEATURES as CREDIT_FEATURES
from registry.demo import demo_rows
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
    from sklearn.metrics import roc_auc_score

    check = _loan_frame(2000, seed=22, biased=biased)
    auc = float(roc_auc_score(check["approved"], booster.predict(check[LOAN_FEATURES])))
    version, _ = registry_services.modelversion_register(
        user=user, registered_model=model, idempotency_key=f"demo-{name}", framework="lightgbm", input_schema=LOAN_SCHEMA,
        metrics={"auc": round(auc, 4)},
        description="LightGBM, 40 trees.",
    )
    if version.status == "pending_upload":
        registry_services.artifact_upload(user=user, version=version, path="model/model.txt", chunks=[booster.model_to_string().encode()], kind="model")
        version = registry_services.modelversion_finalize(user=user, version=version)
    return version


def _dataset(user, version, frame, reference, *, features, sensitive, positive_label=1, meaning="approved", label="approved"):
    existing = EvaluationDataset.objects.filter(version=version, name="holdout").first()
    if existing is not None:
        return existing
    return services.evaluationdataset_attach(
        user=user, version=version, name="holdout", feature_columns=features, label_column=label, sensitive_columns=sensitive,
        positive_label=positive_label, positive_label_meaning=meaning, chunks=[frame.to_csv(index=False).encode()], reference_chunks=[reference.to_csv(index=False).encode()],
    )


def _credit_frames(n: int):
    """Holdout with observed repayment outcomes, and a reference from training time (incomes have since risen)."""
    import pandas as pd

    from registry.demo import credit_frame

    holdout = pd.DataFrame(credit_frame(n, seed=99, biased_history=False, income_shift=0.15))
    reference = pd.DataFrame(credit_frame(n, seed=98, biased_history=False))
    return holdout, reference


def _wait_for_reports(stdout, reports, timeout: float = 900.0) -> None:
    """With a broker the worker computes the reports; the promotions that follow need them finished."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True):
        return
    pending = [r.pk for r in reports]
    stdout.write(f"  waiting for the worker to finish {len(pending)} reports…\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = Report.objects.filter(pk__in=pending, status__in=[ReportStatus.QUEUED, ReportStatus.RUNNING]).count()
        if not left:
            return
        time.sleep(2)
    raise CommandError(f"Reports still queued or running after {timeout:.0f} s: is a worker running (`celery -A modelgate worker`)?")


def seed(stdout, context):
    dana = get_user_model().objects.get(username="dana")
    team = context["teams"]["credit"]
    lines, requested = [], []
    versions = context.setdefault("versions", {})
    for name, biased in (("loan-approval-fair", False), ("loan-approval-biased", True)):
        version = _loan_model(dana, team, name, biased=biased)
        versions[name] = [version]
        n = 2000  # the fair model must pass the four-fifths rule by a margin, not by luck: no small holdout
        dataset = _dataset(dana, version, _loan_frame(n, seed=22, biased=biased), _loan_frame(n, seed=23, biased=biased, shift=0.4),
                           features=LOAN_FEATURES, sensitive=["gender", "age_band"])
        for kind, params in (("fairness", {}), ("drift", {}), ("explainability", {"sample_size": demo_rows(500, 100)})):
            report, _ = services.report_request(user=dana, version=version, dataset=dataset, kind=kind, parameters=params)
            requested.append(report)
            lines.append(f"  {name} {kind}: /monitoring/reports/{report.pk}/")
    # The credit scorer's story: the same holdout for both versions, so their fairness reports compare.
    holdout, reference = _credit_frames(demo_rows(1500, 600))
    for version in versions.get("credit-scorer") or []:
        dataset = _dataset(dana, version, holdout, reference, features=CREDIT_FEATURES, sensitive=["gender", "age_band"],
                           positive_label=0, meaning="repays", label="default")  # favourable outcome: no default
        for kind, params in (("fairness", {}), ("drift", {}),
                             ("explainability", {"sample_size": demo_rows(120, 50), "background_size": 50, "pdp_rows": 200})):
            report, _ = services.report_request(user=dana, version=version, dataset=dataset, kind=kind, parameters=params)
            requested.append(report)
            lines.append(f"  credit-scorer v{version.version} {kind}: /monitoring/reports/{report.pk}/")
    _wait_for_reports(stdout, requested)
    for name in ("loan-approval-fair", "loan-approval-biased", "credit-scorer"):
        for version in versions.get(name) or []:
            if not ModelCard.objects.filter(version=version).exists():
                services.modelcard_generate(user=dana, version=version)
    done = {r.pk: r for r in Report.objects.filter(pk__in=[r.pk for r in requested])}
    failed = [f"#{pk}: {r.error}" for pk, r in done.items() if r.status == ReportStatus.FAILED]
    stdout.write("\nMonitoring reports (credit-scorer v1 and loan-approval-biased fail the four-fifths rule):\n" + "\n".join(lines) + "\n")
    if failed:
        stdout.write("  FAILED reports: " + "; ".join(failed) + "\n")
    return context

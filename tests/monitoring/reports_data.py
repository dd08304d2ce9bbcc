"""Small synthetic credit data and real models for the report tests (kept small: CI stays fast)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

FEATURES = ["income", "debt_ratio", "age_years", "tenure"]
INPUT_SCHEMA = {
    "type": "object",
    "properties": {f: {"type": "number"} for f in FEATURES},
    "required": FEATURES,
}


def credit_frame(n: int = 1500, *, seed: int = 0, shift: float = 0.0, biased: bool = False) -> pd.DataFrame:
    """Features, sensitive attributes and a label. ``biased``: the label leans on gender through ``tenure``."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male"], size=n, p=[0.45, 0.55])
    age_band = rng.choice(["<30", "30-60", ">60"], size=n, p=[0.3, 0.5, 0.2])
    income = rng.normal(50 + shift * 10, 10, n)
    debt = rng.uniform(0, 1, n)
    age = rng.integers(18, 80, n).astype(float)
    tenure = rng.normal(5, 2, n)
    if biased:
        tenure = tenure + np.where(gender == "male", 4.0, -4.0)
    logit = 0.08 * (income - 50) - 2.0 * (debt - 0.5) + (0.9 * (tenure - 5) if biased else 0.05 * (tenure - 5))
    label = (logit + rng.logistic(size=n) * 0.5 > 0).astype(int)
    return pd.DataFrame({"income": income, "debt_ratio": debt, "age_years": age, "tenure": tenure, "gender": gender, "age_band": age_band, "approved": label})


def to_csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def train_lightgbm(df: pd.DataFrame, rounds: int = 40) -> tuple[object, bytes]:
    import lightgbm

    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": 0, "num_threads": 1},
                             lightgbm.Dataset(df[FEATURES], df["approved"]), num_boost_round=rounds)
    return booster, booster.model_to_string().encode()


def train_sklearn(df: pd.DataFrame) -> tuple[object, bytes]:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(df[FEATURES], df["approved"])
    return model, skops.io.dumps(model)


def train_sklearn_linear(df: pd.DataFrame) -> tuple[object, bytes]:
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=500).fit(df[FEATURES], df["approved"])
    return model, skops.io.dumps(model)


def pickled(model) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def train_sklearn_forest(df: pd.DataFrame, trees: int = 150) -> tuple[object, bytes]:
    """Full-depth trees: shap's tree path is slow on them (~1 s per 100 rows here), which a chunk test needs."""
    import skops.io
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=1).fit(df[FEATURES], df["approved"])
    return model, skops.io.dumps(model)

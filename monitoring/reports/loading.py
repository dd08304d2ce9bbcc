"""Model and dataset loading in the worker.

Formats that cannot run code when loaded are preferred: LightGBM text models,
XGBoost JSON/UBJSON models, skops for scikit-learn (with only scikit-learn,
numpy and scipy types trusted). pickle/joblib files run arbitrary code when
loaded, so they are refused unless ``MODELGATE_ALLOW_PICKLE`` is true, and even
then only after the bytes about to be loaded hash to the artifact's recorded
SHA-256 (the bytes hashed are the bytes loaded: no time-of-check gap).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "lightgbm.sklearn", "xgboost.sklearn")


class ReportInputError(Exception):
    """A problem with the inputs (model file, dataset, columns): the report fails with this message."""


@dataclass
class LoadedModel:
    """One calling convention over the supported libraries.

    Two classes matter and may differ. The *positive* class is the one whose probability
    the model outputs and every explanation (SHAP, waterfalls, partial dependence, what-if)
    explains: a binary classifier's second class (scikit-learn's ``predict_proba(X)[:, 1]``,
    what LightGBM and XGBoost binary boosters return), e.g. P(default = 1) published as
    ``default_probability``. The *favourable* class is the dataset's ``positive_label``, the
    outcome fairness counts as selected, e.g. default = 0 (repays).
    """

    raw: object
    flavour: str  # "sklearn", "lightgbm", "xgboost"
    task: str  # "classification" or "regression"
    feature_names: list[str]
    positive_index: int = 1  # column of predict_proba that predict_score returns and explanations explain
    notes: dict = field(default_factory=dict)
    positive_class: object = 1  # the label value of that column (boosters: 1)
    favourable_is_positive: bool = True  # False: the favourable label is the other class of a binary model

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (classifiers) or the predicted value (regressors)."""
        X = X[self.feature_names]
        if self.flavour == "lightgbm":
            return np.asarray(self.raw.predict(X), dtype=float)
        if self.flavour == "xgboost":
            import xgboost

            return np.asarray(self.raw.predict(xgboost.DMatrix(X)), dtype=float)
        if self.task == "classification" and hasattr(self.raw, "predict_proba"):
            return np.asarray(self.raw.predict_proba(X)[:, self.positive_index], dtype=float)
        return np.asarray(self.raw.predict(X), dtype=float)

    def predict_favourable(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the favourable label (fairness), whichever class the model outputs."""
        score = self.predict_score(X)
        return score if self.favourable_is_positive else 1.0 - score

    def predict_label(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """1 where the favourable label is predicted (its probability ≥ threshold), 0 otherwise."""
        return (self.predict_favourable(X) >= threshold).astype(np.int8)

    @property
    def is_sklearn_estimator(self) -> bool:
        return self.flavour == "sklearn"


def read_verified(handle, expected_sha256: str) -> bytes:
    """Read a stored file and check its bytes against the recorded SHA-256."""
    data = handle.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ReportInputError(
            f"The stored model file does not match its recorded SHA-256 (stored {expected_sha256[:12]}…, "
            f"read {actual[:12]}…); it was not loaded."
        )
    return data


def load_model(data: bytes, *, path: str, framework: str, task: str, allow_pickle: bool, positive_label=1) -> LoadedModel:
    """Load verified model bytes. ``path`` decides the format; ``framework`` is the registry's declaration."""
    lower = path.lower()
    try:
        if lower.endswith(PICKLE_SUFFIXES):
            if not allow_pickle:
                raise ReportInputError(
                    f"{path}: pickle/joblib model files can run code when loaded and MODELGATE_ALLOW_PICKLE is "
                    "false; upload a skops (scikit-learn), LightGBM text or XGBoost JSON model instead."
                )
            import joblib

            raw = joblib.load(io.BytesIO(data))
            return _wrap(raw, task=task, positive_label=positive_label, notes={"format": "pickle"})
        if lower.endswith(".skops"):
            return _load_skops(data, path=path, task=task, positive_label=positive_label)
        # A binary booster outputs P(label = 1): a favourable label of 0 is its other class.
        booster_favourable = str(positive_label).lower() not in ("0", "0.0", "false")
        if framework == "lightgbm" or lower.endswith((".lgb", ".lgbm")):
            import lightgbm

            booster = lightgbm.Booster(model_str=data.decode("utf-8"))
            return LoadedModel(booster, "lightgbm", task, list(booster.feature_name()), notes={"format": "lightgbm-text"},
                               favourable_is_positive=booster_favourable)
        if framework == "xgboost" or lower.endswith(".ubj"):
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(bytearray(data))
            return LoadedModel(booster, "xgboost", task, list(booster.feature_names or []), notes={"format": "xgboost"},
                               favourable_is_positive=booster_favourable)
    except ReportInputError:
        raise
    except Exception as exc:  # a corrupt or truncated file: say which one, not a library traceback
        raise ReportInputError(f"{path}: the model file could not be read as a {framework} model ({exc.__class__.__name__}: {exc}).") from exc
    raise ReportInputError(f"{path}: unsupported model format; use .skops, a LightGBM text model, or XGBoost .json/.ubj.")


def _load_skops(data: bytes, *, path: str, task: str, positive_label) -> LoadedModel:
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=data)
    refused = [name for name in untrusted if not name.startswith(SKOPS_TRUSTED_PREFIXES)]
    if refused:
        raise ReportInputError(f"{path}: the skops file contains types outside scikit-learn/numpy/scipy: {', '.join(sorted(refused))}.")
    raw = skops.io.loads(data, trusted=list(untrusted))
    return _wrap(raw, task=task, positive_label=positive_label, notes={"format": "skops"})


def _wrap(raw, *, task: str, positive_label, notes: dict) -> LoadedModel:
    if type(raw).__module__.startswith("lightgbm") and hasattr(raw, "booster_"):
        flavour = "sklearn"  # LGBMClassifier: the scikit-learn API
    elif type(raw).__module__.startswith("lightgbm"):
        flavour = "lightgbm"
    elif type(raw).__module__.startswith("xgboost") and not hasattr(raw, "get_booster"):
        flavour = "xgboost"
    else:
        flavour = "sklearn"
    names = getattr(raw, "feature_names_in_", None)
    if names is None and flavour == "lightgbm":
        names = raw.feature_name()
    positive_index, positive_class, favourable_is_positive = 1, 1, True
    classes = getattr(raw, "classes_", None)
    if task == "classification" and classes is not None:
        classes = list(classes)
        matches = [i for i, c in enumerate(classes) if str(c) == str(positive_label)]
        favourable = matches[0] if matches else len(classes) - 1
        # Binary: explain the second class, as predict_proba[:, 1] and a served *_probability do. With more
        # classes no single probability is "the" output: explain the favourable one.
        positive_index = 1 if len(classes) == 2 else favourable
        positive_class = classes[positive_index].item() if hasattr(classes[positive_index], "item") else classes[positive_index]
        favourable_is_positive = favourable == positive_index
    return LoadedModel(raw, flavour, task, list(names) if names is not None else [], positive_index, notes,
                       positive_class=positive_class, favourable_is_positive=favourable_is_positive)


def read_table(handle, data_format: str, *, name: str) -> pd.DataFrame:
    try:
        if data_format == "parquet":
            return pd.read_parquet(handle)
        return pd.read_csv(handle)
    except Exception as exc:
        raise ReportInputError(f"{name}: the {data_format} file could not be read ({exc.__class__.__name__}: {exc}).") from exc


def schema_columns(schema_format: str, schema) -> tuple[list[str], list[str]]:
    """(all columns, required columns) of a version's input schema; ([], []) when it has none."""
    if not schema:
        return [], []
    if schema_format == "avro":
        fields = [f["name"] for f in schema.get("fields", [])]
        required = [f["name"] for f in schema.get("fields", []) if not _avro_nullable(f.get("type"))]
        return fields, required
    properties = list((schema.get("properties") or {}).keys())
    return properties, list(schema.get("required") or [])


def _avro_nullable(avro_type) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def check_columns(df: pd.DataFrame, *, roles: dict, schema_format: str, input_schema, name: str) -> None:
    """Every declared column exists; features agree with the version's input schema."""
    declared = [*roles["features"], roles["label"], *roles["sensitive"]]
    if roles.get("prediction"):
        declared.append(roles["prediction"])
    missing = [c for c in dict.fromkeys(declared) if c not in df.columns]
    if missing:
        raise ReportInputError(f"{name}: columns declared for this dataset are missing from the file: {', '.join(missing)}.")
    schema_cols, required = schema_columns(schema_format, input_schema)
    if schema_cols:
        unknown = [c for c in roles["features"] if c not in schema_cols]
        absent = [c for c in required if c not in roles["features"]]
        problems = []
        if unknown:
            problems.append(f"feature columns not in the version's input schema: {', '.join(unknown)}")
        if absent:
            problems.append(f"input-schema columns missing from the features: {', '.join(absent)}")
        if problems:
            raise ReportInputError(f"{name}: schema mismatch — {'; '.join(problems)}.")


def binary_outcome(values: pd.Series, positive_label) -> np.ndarray:
    """1 where the value is the favourable label, compared as text so 1, "1" and 1.0 agree."""
    if pd.api.types.is_numeric_dtype(values) and isinstance(positive_label, int | float):
        return (values.to_numpy() == positive_label).astype(np.int8)
    return (values.astype(str).to_numpy() == str(positive_label)).astype(np.int8)

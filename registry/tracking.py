"""The team's MLflow tracking server, read with Modelgate's own service account.

MLflow 3 registers ``models:/m-<id>`` sources with a logged-model id and no run id;
MLflow's own registry then looks the run up in its tracking store. Modelgate has no
tracking store, so a worker job asks the configured tracking server instead
(``MLFLOW_TRACKING_SERVER_URL``, with ``MLFLOW_TRACKING_SERVER_TOKEN`` or a
username/password — never the registering user's credentials):

1. ``GET /api/2.0/mlflow/logged-models/{model_id}`` → the model's ``source_run_id``;
2. ``GET /api/2.0/mlflow/runs/get?run_id=…`` → the run's parameters, metrics, tags and
   dataset inputs, as the tracking server reports them.

Errors say whether retrying can help (:attr:`TrackingServerError.transient`): the
server down, a timeout, a 5xx or 429 can; a 404, a refused service account or an
answer we cannot read cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import requests
from django.conf import settings

RESOLVE_RUN_JOB = "registry.resolve_training_run"
LOGGED_MODEL_PATH = "/api/2.0/mlflow/logged-models/{model_id}"
RUN_PATH = "/api/2.0/mlflow/runs/get"
# MLflow's own limits: key 250 characters, param value 6000 (mlflow.utils.validation).
MAX_KEY, MAX_PARAM_VALUE = 250, 6000
# The dataset fields kept from each input; ``schema`` and ``profile`` can be large and are left on the server.
DATASET_FIELDS = ("name", "digest", "source_type", "source")
GIT_COMMIT_TAG, GIT_REPO_TAG = "mlflow.source.git.commit", "mlflow.source.git.repoURL"
DATASET_CONTEXT_TAG = "mlflow.data.context"
CONFIGURE_HINT = (
    "Set MLFLOW_TRACKING_SERVER_URL (and MLFLOW_TRACKING_SERVER_TOKEN, or MLFLOW_TRACKING_SERVER_USERNAME and "
    "MLFLOW_TRACKING_SERVER_PASSWORD) for the web and worker processes: see docs/api-guide.md, "
    "“MLflow tracking server + Modelgate registry”."
)


class TrackingServerError(Exception):
    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass
class RunFacts:
    """What the tracking server says about the run that produced a logged model."""

    run_id: str
    experiment_id: str
    name: str = ""
    url: str = ""
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: list[dict] = field(default_factory=list)
    commit: str = ""
    code_repository: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None


def configured() -> bool:
    return bool(settings.MLFLOW_TRACKING_SERVER_URL)


def run_url(*, experiment_id: str, run_id: str) -> str:
    """The run's page in the tracking server's UI."""
    base = settings.MLFLOW_TRACKING_SERVER_UI_URL or settings.MLFLOW_TRACKING_SERVER_URL
    return f"{base}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"


def _auth() -> dict:
    if settings.MLFLOW_TRACKING_SERVER_TOKEN:
        return {"headers": {"Authorization": f"Bearer {settings.MLFLOW_TRACKING_SERVER_TOKEN}"}}
    if settings.MLFLOW_TRACKING_SERVER_USERNAME:
        return {"auth": (settings.MLFLOW_TRACKING_SERVER_USERNAME, settings.MLFLOW_TRACKING_SERVER_PASSWORD or "")}
    return {}


def _get(path: str, params: dict | None = None) -> dict:
    url = settings.MLFLOW_TRACKING_SERVER_URL + path
    try:
        # No redirects: the service account's credentials stay with the configured server.
        response = requests.get(
            url, params=params, timeout=settings.MLFLOW_TRACKING_SERVER_TIMEOUT, allow_redirects=False, **_auth()
        )
    except requests.RequestException as exc:
        raise TrackingServerError(f"The tracking server at {settings.MLFLOW_TRACKING_SERVER_URL} did not answer: {exc.__class__.__name__}.", transient=True) from None
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TrackingServerError(f"The tracking server's answer to GET {path} is not a JSON object.", transient=False)
        return body
    reason = _error_message(response)
    if response.status_code == 429 or response.status_code >= 500:
        raise TrackingServerError(f"The tracking server answered {response.status_code} to GET {path}{reason}.", transient=True)
    if response.status_code in (401, 403):
        raise TrackingServerError(
            f"The tracking server refused Modelgate's service account ({response.status_code}{reason}): "
            "check MLFLOW_TRACKING_SERVER_TOKEN (or _USERNAME/_PASSWORD).",
            transient=False,
        )
    raise TrackingServerError(f"The tracking server answered {response.status_code} to GET {path}{reason}.", transient=False)


def _error_message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f": {body['message'][:300]}"
    return ""


def _pairs(items) -> list[tuple[str, object]]:
    return [(item["key"], item.get("value")) for item in items or [] if isinstance(item, dict) and isinstance(item.get("key"), str)]


def _millis(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def logged_model_run_id(model_id: str) -> tuple[str, str]:
    """(run id, experiment id) of the run that logged ``model_id``."""
    body = _get(LOGGED_MODEL_PATH.format(model_id=quote(model_id, safe="")))
    info = (body.get("model") or {}).get("info") or {}
    run_id = info.get("source_run_id")
    if not isinstance(run_id, str) or not run_id:
        raise TrackingServerError(f"The tracking server knows logged model {model_id} but no run that produced it.", transient=False)
    return run_id, str(info.get("experiment_id") or "")


def run_facts(run_id: str) -> RunFacts:
    body = _get(RUN_PATH, {"run_id": run_id})
    run = body.get("run") or {}
    info, data, inputs = run.get("info") or {}, run.get("data") or {}, run.get("inputs") or {}
    if info.get("run_id", run_id) != run_id:
        raise TrackingServerError(f"The tracking server answered about run {info.get('run_id')!r} when asked for {run_id!r}.", transient=False)
    experiment_id = str(info.get("experiment_id") or "")
    tags = {key: value for key, value in _pairs(data.get("tags")) if isinstance(value, str)}
    params = {key[:MAX_KEY]: str(value)[:MAX_PARAM_VALUE] for key, value in _pairs(data.get("params")) if value is not None}
    metrics = {}
    for key, value in _pairs(data.get("metrics")):
        # JSON has no NaN/Infinity; MLflow may hold them. Those are left out rather than mis-stored.
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            metrics[key[:MAX_KEY]] = value
    datasets = []
    for item in inputs.get("dataset_inputs") or []:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict):
            continue
        entry = {name: str(dataset.get(name) or "")[:1000] for name in DATASET_FIELDS}
        context = dict(_pairs(item.get("tags"))).get(DATASET_CONTEXT_TAG)
        if isinstance(context, str):
            entry["context"] = context[:100]
        datasets.append(entry)
    return RunFacts(
        run_id=run_id, experiment_id=experiment_id, name=str(info.get("run_name") or "")[:250],
        url=run_url(experiment_id=experiment_id, run_id=run_id), params=params, metrics=metrics, datasets=datasets,
        commit=tags.get(GIT_COMMIT_TAG, ""), code_repository=tags.get(GIT_REPO_TAG, ""),
        started_at=_millis(info.get("start_time")), ended_at=_millis(info.get("end_time")),
    )


def resolve_logged_model(model_id: str) -> RunFacts:
    """The run that produced MLflow logged model ``model_id``, with what the tracking server records about it."""
    run_id, _ = logged_model_run_id(model_id)
    return run_facts(run_id)

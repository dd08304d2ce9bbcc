"""MLflow's most common workflow, deployed split: the team's own MLflow tracking server for
experiments, Modelgate as the registry.

``mlflow.sklearn.log_model(..., registered_model_name=...)`` with MLflow 3 registers the
source ``models:/m-<logged model id>`` with a ``model_id`` and no ``run_id``; Modelgate's
worker asks the tracking server which run logged the model and records it as lineage.

The tracking server is a real ``mlflow server`` process, from a virtualenv of its own
(the full ``mlflow`` package conflicts with this project's pins): ``make
mlflow-server-venv``, which ``make test`` runs when worker tests are selected. The client
is the unmodified ``mlflow-skinny`` of requirements.txt. These tests run in the
PostgreSQL + Redis run (a real Celery worker); a missing server venv fails them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from django.test import Client
from mlflow import MlflowClient
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from modelgate.core.models import Job, JobStatus
from modelgate.core.services import token_create
from registry import tracking
from registry.models import ModelVersion, TrainingRun
from tests.conftest import ROOT, api_for, start_celery_worker, stop_celery_worker, wait_for
from tests.mlflow.helpers import MlflowApi

MLFLOW_SERVER_VENV = Path(os.environ.get("MLFLOW_SERVER_VENV") or ROOT / ".venv-mlflow-server")
SERVICE_TOKEN = "tracking-service-token-for-tests"  # noqa: S105 (a test value: the server runs without auth)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.xdist_group("celery-worker"),
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_tracking_server(tmp_path_factory):
    """A real ``mlflow server`` (SQLite backend store, artifacts proxied by the server), its URL."""
    executable = MLFLOW_SERVER_VENV / "bin" / "mlflow"
    if not executable.exists():
        pytest.fail(f"No MLflow server at {executable}: run `make mlflow-server-venv` (make test does it for the worker run).")
    home = tmp_path_factory.mktemp("mlflow-server")
    port = int(os.environ.get("MODELGATE_TEST_MLFLOW_PORT") or _free_port())
    url = f"http://127.0.0.1:{port}"
    log_path = home / "server.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "DATABASE_URL", "DJANGO"))}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(executable), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}", "--artifacts-destination", str(home / "artifacts")],
            cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited early:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer within 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def tracking_server_configured(mlflow_tracking_server, settings, monkeypatch):
    """Modelgate's web side (this process) and any worker started now know the tracking server."""
    values = {
        "MLFLOW_TRACKING_SERVER_URL": mlflow_tracking_server,
        "MLFLOW_TRACKING_SERVER_UI_URL": mlflow_tracking_server,
        "MLFLOW_TRACKING_SERVER_TOKEN": SERVICE_TOKEN,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, value)
    return mlflow_tracking_server


@pytest.fixture
def worker_with_tracking_server(tracking_server_configured, _celery_worker_holder):
    """A real Celery worker started with the tracking server's settings; stopped afterwards,
    so the next test's worker starts without them."""
    holder = _celery_worker_holder
    if holder.proc is not None:
        stop_celery_worker(holder.proc)
    holder.proc = start_celery_worker()
    yield holder.proc
    stop_celery_worker(holder.proc)
    holder.proc = None


@pytest.fixture
def mlflow_split_client(monkeypatch, live_server, tracking_server_configured):
    """The stock client: tracking URI = the MLflow server, registry URI = Modelgate."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)

    def login(user):
        _, raw = token_create(user=user, name="mlflow")
        # MLflow sends one set of credentials to both servers; this tracking server has no auth.
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", raw)
        mlflow.set_tracking_uri(tracking_server_configured)
        mlflow.set_registry_uri(live_server.url)
        return MlflowClient(tracking_uri=tracking_server_configured, registry_uri=live_server.url)

    yield login
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _training_data():
    features, target = make_classification(n_samples=200, n_features=4, random_state=0)
    frame = pd.DataFrame(features, columns=["income", "debt", "age", "tenure"])
    return frame, target


def _finished_job():
    return Job.objects.filter(kind=tracking.RESOLVE_RUN_JOB, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).first()


@pytest.mark.django_db(transaction=True)
def test_it_records_the_run_of_a_model_logged_to_the_tracking_server(
    worker_with_tracking_server, mlflow_split_client, tracking_server_configured, live_server, ds_owner, seeded_environments,
):
    client = mlflow_split_client(ds_owner)
    frame, target = _training_data()
    experiment_id = client.create_experiment("credit")  # not set_experiment: no fluent state left for later tests
    with mlflow.start_run(experiment_id=experiment_id, run_name="credit-lr") as run:
        model = LogisticRegression(C=0.5, max_iter=200).fit(frame, target)
        mlflow.log_params({"C": 0.5, "max_iter": 200})
        mlflow.log_metric("auc", 0.91)
        training = mlflow.data.from_pandas(frame.assign(default=target), name="credit-train", targets="default")
        mlflow.log_input(training, context="training")
        logged = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="credit-scorer", input_example=frame.head(2),
            pip_requirements=["scikit-learn"],  # no requirement inference: it imports the model in a subprocess
        )
    run_id = run.info.run_id
    assert str(logged.registered_model_version) == "1"

    # Registered at once and usable; the run is found by the worker, from the tracking server.
    version = ModelVersion.objects.get()
    assert (version.logged_model_id, version.source_uri) == (logged.model_id, f"models:/{logged.model_id}")
    job = wait_for(_finished_job, timeout=90)
    assert job is not None, "the worker did not resolve the run within 90 s"
    assert job.status == JobStatus.SUCCEEDED, job.error

    fetched = client.get_model_version("credit-scorer", "1")
    assert (fetched.run_id, fetched.status) == (run_id, "READY")
    # model_id is on the wire as MLflow's server answers it (this client's entity does not read it yet).
    wire = requests.get(
        f"{live_server.url}/api/2.0/mlflow/model-versions/get", params={"name": "credit-scorer", "version": "1"},
        headers={"Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"}, timeout=30,
    ).json()["model_version"]
    assert (wire["model_id"], wire["run_id"]) == (logged.model_id, run_id)
    assert client.search_model_versions(f"run_id = '{run_id}'")[0].version == "1"

    loaded = mlflow.pyfunc.load_model("models:/credit-scorer/1")
    assert list(loaded.predict(frame.head(5))) == list(model.predict(frame.head(5)))

    # The lineage record: as the tracking server reports the run.
    recorded = TrainingRun.objects.get()
    run_url = f"{tracking_server_configured}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
    assert (recorded.external_id, recorded.name, recorded.url) == (run_id, "credit-lr", run_url)
    assert recorded.params == {"C": "0.5", "max_iter": "200"}
    assert recorded.metrics == {"auc": 0.91}
    assert [(d["name"], d["context"], d["digest"]) for d in recorded.datasets] == [("credit-train", "training", training.digest)]
    assert recorded.team.slug == "credit" and ModelVersion.objects.get().training_run == recorded

    page = _portal(ds_owner).get("/registry/models/credit-scorer/versions/1/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{run_url}"' in html and "credit-lr" in html and "credit-train" in html

    lineage = api_for(ds_owner).get("/api/v1/models/credit-scorer/versions/1/lineage/").json()
    root = next(node for node in lineage["nodes"] if node["level"] == 0)
    assert root["training_run"] == run_id
    assert (root["run"]["url"], root["run"]["params"], root["run"]["datasets"][0]["name"]) == (run_url, {"C": "0.5", "max_iter": "200"}, "credit-train")


@pytest.mark.django_db
def test_it_says_why_when_the_tracking_server_does_not_know_the_model(
    tracking_server_configured, run_jobs_inline, django_capture_on_commit_callbacks, ds_owner, seeded_environments,
):
    api = MlflowApi(ds_owner)
    api.post("registered-models/create", {"name": "credit-scorer"})
    with django_capture_on_commit_callbacks(execute=True):
        status, body = api.post("model-versions/create", {
            "name": "credit-scorer", "source": "models:/m-00000000000000000000000000000000",
            "model_id": "m-00000000000000000000000000000000",
        })
    assert status == 200 and body["model_version"]["status"] == "READY"
    job = Job.objects.get(kind=tracking.RESOLVE_RUN_JOB)
    assert job.status == JobStatus.FAILED and "404" in job.error
    status, body = api.get("model-versions/get", {"name": "credit-scorer", "version": "1"})
    assert status == 200 and body["model_version"]["status"] == "READY" and "run_id" not in body["model_version"]
    html = _portal(ds_owner).get("/registry/models/credit-scorer/versions/1/").content.decode()
    assert 'data-run-state="failed"' in html and "The tracking server answered 404" in html


def _portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client

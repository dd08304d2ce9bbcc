"""MLflow 3's ``model_id`` on create_model_version, and what happens to the run behind it
when no tracking server is configured, when it is down, and when it refuses Modelgate's
service account. (The path through a real MLflow tracking server and a real worker:
test_split_deployment.py.)"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from modelgate.core.models import AuditEvent, Job, JobStatus
from registry import services, tracking
from registry.models import ModelVersion, TrainingRun
from tests.conftest import api_for
from tests.mlflow.helpers import MlflowApi

MODEL_ID = "m-6f0c7a3b9d2e4f1a8b5c0d9e7f6a5b4c"
SERVICE_TOKEN = "svc-token-for-tests"  # noqa: S105


def _register(api: MlflowApi, **extra):
    api.post("registered-models/create", {"name": "credit-scorer"})
    return api.post("model-versions/create", {"name": "credit-scorer", "source": f"models:/{MODEL_ID}", "model_id": MODEL_ID, **extra})


def _page(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/registry/models/credit-scorer/versions/1/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def no_tracking_server(settings):
    settings.MLFLOW_TRACKING_SERVER_URL = ""
    settings.MLFLOW_TRACKING_SERVER_UI_URL = ""


def test_it_stores_and_answers_the_logged_model_id(db, ds_owner, no_tracking_server, django_capture_on_commit_callbacks):
    api = MlflowApi(ds_owner)
    with django_capture_on_commit_callbacks() as callbacks:
        status, body = _register(api)
    assert status == 200, body
    assert (body["model_version"]["model_id"], body["model_version"]["status"]) == (MODEL_ID, "READY")
    assert "run_id" not in body["model_version"]
    assert ModelVersion.objects.get().logged_model_id == MODEL_ID
    status, body = api.get("model-versions/get", {"name": "credit-scorer", "version": "1"})
    assert status == 200 and body["model_version"]["model_id"] == MODEL_ID
    status, body = api.get("model-versions/search", {"filter": "name = 'credit-scorer'"})
    assert [v.get("model_id") for v in body["model_versions"]] == [MODEL_ID]
    # No tracking server: nothing to ask, no job.
    assert callbacks == [] and not Job.objects.exists()


def test_it_says_the_run_is_unknown_and_how_to_configure_a_tracking_server(db, ds_owner, no_tracking_server):
    _register(MlflowApi(ds_owner))
    html = _page(ds_owner)
    assert 'data-run-state="unconfigured"' in html and "Training run unknown" in html
    assert "MLFLOW_TRACKING_SERVER_URL" in html and "MLFLOW_TRACKING_SERVER_TOKEN" in html and MODEL_ID in html


def test_it_refuses_a_model_id_that_is_not_an_id(db, ds_owner, no_tracking_server):
    status, body = _register(MlflowApi(ds_owner), model_id="../../runs/get?x=1")
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "model_id" in body["message"]
    assert not ModelVersion.objects.exists()


def test_it_keeps_a_run_id_the_client_gave(db, ds_owner, settings, django_capture_on_commit_callbacks):
    settings.MLFLOW_TRACKING_SERVER_URL = "http://127.0.0.1:9"
    with django_capture_on_commit_callbacks():
        status, body = _register(MlflowApi(ds_owner), run_id="run-given")
    assert body["model_version"]["run_id"] == "run-given"
    assert not Job.objects.exists()  # the run is known: nothing to resolve


class _Recorder(BaseHTTPRequestHandler):
    """Stands in for a tracking server that refuses the credentials it gets, and notes them."""

    seen: list[str | None] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).seen.append(self.headers.get("Authorization"))
        body = b'{"error_code": "PERMISSION_DENIED", "message": "Permission denied"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_tracking_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MLFLOW_TRACKING_SERVER_URL = settings.MLFLOW_TRACKING_SERVER_UI_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.MLFLOW_TRACKING_SERVER_TOKEN = SERVICE_TOKEN
    yield _Recorder.seen
    server.shutdown()
    server.server_close()


def test_it_asks_with_the_service_account_never_the_callers_token(
    db, ds_owner, auditor, refusing_tracking_server, run_jobs_inline, django_capture_on_commit_callbacks,
):
    api = MlflowApi(ds_owner)
    with django_capture_on_commit_callbacks(execute=True):
        status, body = _register(api)
    assert status == 200 and body["model_version"]["status"] == "READY"
    assert refusing_tracking_server == [f"Bearer {SERVICE_TOKEN}"]  # one attempt: a refusal is not retried
    assert api.token not in str(refusing_tracking_server)
    job = Job.objects.get(kind=tracking.RESOLVE_RUN_JOB)
    assert job.status == JobStatus.FAILED and "refused Modelgate's service account (403: Permission denied)" in job.error
    html = _page(ds_owner)
    assert 'data-run-state="failed"' in html and "MLFLOW_TRACKING_SERVER_TOKEN" in html and "The version itself is usable" in html

    # Once the token is fixed, whoever may change the version asks again; a read-only auditor may not.
    resolve = "/registry/models/credit-scorer/versions/1/training-run/resolve/"
    assert 'data-testid="resolve-run"' in html and 'data-testid="resolve-run"' not in _page(auditor)
    reader = Client()
    reader.force_login(auditor)
    assert reader.post(resolve).status_code == 403
    owner = Client()
    owner.force_login(ds_owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post(resolve).status_code == 302
    assert len(refusing_tracking_server) == 2 and Job.objects.filter(kind=tracking.RESOLVE_RUN_JOB).count() == 2
    assert AuditEvent.objects.filter(action="registry.version.training_run_requested", actor_username="dana").exists()


def test_it_retries_a_tracking_server_that_is_down_then_gives_up_saying_why(
    db, ds_owner, settings, run_jobs_inline, django_capture_on_commit_callbacks,
):
    settings.MLFLOW_TRACKING_SERVER_URL = settings.MLFLOW_TRACKING_SERVER_UI_URL = "http://127.0.0.1:9"  # discard: nothing listens
    settings.MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS = 10
    api = MlflowApi(ds_owner)
    with django_capture_on_commit_callbacks(execute=True):
        status, body = _register(api)
    assert status == 200 and body["model_version"]["status"] == "READY"
    # In-process, the task runner's retries run at once with backoff skipped: after its 4 attempts
    # (fewer than MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS) the job fails, saying why; the version stays usable.
    job = Job.objects.get(kind=tracking.RESOLVE_RUN_JOB)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 4)
    assert "Gave up after 4 attempts" in job.error and "did not answer" in job.error
    html = _page(ds_owner)
    assert 'data-run-state="failed"' in html and "did not answer" in html
    assert api.get("model-versions/get", {"name": "credit-scorer", "version": "1"})[1]["model_version"]["status"] == "READY"

    # The team can ask again (a new job), and the handler's own bound still ends it with the reason.
    settings.MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS = 1
    version = ModelVersion.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_resolve_again(user=ds_owner, version=version)
    latest = Job.objects.filter(kind=tracking.RESOLVE_RUN_JOB).order_by("-created_at").first()
    assert latest.pk != job.pk and latest.status == JobStatus.FAILED and "Gave up after 1 attempts" in latest.error


def _facts(run_id="run-abc", **extra) -> tracking.RunFacts:
    values = {
        "run_id": run_id, "experiment_id": "7", "name": "credit-lr", "url": f"http://mlflow.example/#/experiments/7/runs/{run_id}",
        "params": {"C": "0.5"}, "metrics": {"auc": 0.91},
        "datasets": [{"name": "credit-train", "digest": "abcd1234", "source_type": "code", "source": "{}", "context": "training"}],
        "commit": "0123456789ABCDEF", "code_repository": "git@github.com:acme/credit.git",
    }
    return tracking.RunFacts(**{**values, **extra})


def test_it_records_the_run_once_and_audits_it(db, ds_owner, no_tracking_server):
    _register(MlflowApi(ds_owner))
    version = ModelVersion.objects.get()
    run = services.modelversion_attach_training_run(version_id=version.pk, facts=_facts())
    version.refresh_from_db()
    assert (version.run_id, version.training_run) == ("run-abc", run)
    # Git facts only where they fit: the commit lower-cased, an ssh repository address left out.
    assert (run.commit, run.code_repository, run.team.slug) == ("0123456789abcdef", "", "credit")
    event = AuditEvent.objects.get(action="registry.version.training_run_resolved")
    assert event.changes["run_id"] == {"before": None, "after": "run-abc"}
    assert AuditEvent.objects.filter(action="registry.trainingrun.create", object_id=str(run.pk)).exists()
    # Once recorded, never replaced: a second answer changes nothing.
    assert services.modelversion_attach_training_run(version_id=version.pk, facts=_facts("run-other")) == run
    assert TrainingRun.objects.count() == 1
    html = _page(ds_owner)
    assert 'href="http://mlflow.example/#/experiments/7/runs/run-abc"' in html and "credit-train@abcd1234" in html
    # The lineage diagram: the run node links to the run's page, its dataset input is a node too.
    assert '<a href="http://mlflow.example/#/experiments/7/runs/run-abc">' in html and "training data (tracking server)" in html
    assert "data-run-state" not in html
    # The REST API: the version names its logged model, the run record its link and dataset inputs.
    api = api_for(ds_owner)
    body = api.get("/api/v1/models/credit-scorer/versions/1/").json()
    assert (body["logged_model_id"], body["run_id"], body["training_run"]) == (MODEL_ID, "run-abc", "run-abc")
    (listed,) = api.get("/api/v1/training-runs/").json()["results"]
    assert (listed["url"], listed["name"], listed["datasets"][0]["context"]) == (run.url, "credit-lr", "training")

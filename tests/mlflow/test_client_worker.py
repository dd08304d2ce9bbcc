"""The real MLflow client polls a PENDING_REGISTRATION version until a real
Celery worker has verified its source (needs Redis: deselected on the embedded run)."""

import mlflow
import pytest
from mlflow import MlflowClient

from modelgate.core.models import Job
from modelgate.core.services import token_create


@pytest.mark.worker
@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_it_polls_until_the_worker_marks_the_version_ready(celery_worker_process, live_server, monkeypatch, ds_owner, seeded_environments):
    _, raw = token_create(user=ds_owner, name="mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", raw)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(live_server.url)
    mlflow.set_registry_uri(live_server.url)
    try:
        client = MlflowClient(registry_uri=live_server.url)
        client.create_registered_model("credit-scorer")
        client.create_model_version("credit-scorer", "s3://models/credit/1")
        pending = client.create_model_version("credit-scorer", "modelgate:models/credit-scorer/1", await_creation_for=0)
        assert pending.status == "PENDING_REGISTRATION"
        # The stock client waits the same way mlflow.register_model does: get every 3 s until READY.
        client._get_registry_client().store._await_model_version_creation(pending, 60)
        assert client.get_model_version("credit-scorer", "2").status == "READY"
        job = Job.objects.get(kind="registry_mlflow.verify_source")
        assert job.status == "succeeded", job.error
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)

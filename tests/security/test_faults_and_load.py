"""Faults and a bounded concurrency run.

Covered elsewhere: jobs requested while the broker is down stay queued and the sweeper
sends them later (tests/core/test_faults.py); a worker killed mid-task leaves its job
failed or retried, never running (tests/core/test_faults.py, tests/monitoring/test_reports_worker.py).
"""

from __future__ import annotations

import errno
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.core.files.storage import InMemoryStorage
from django.db import connection
from django.test import Client

from modelgate.core import roles
from modelgate.core.audit import verify_chain
from modelgate.core.models import AuditEvent
from modelgate.core.services import token_create
from registry import services as registry
from registry.choices import VersionStatus
from registry.models import Artifact, ArtifactBlob, ModelVersion
from tests.conftest import api_for
from tests.factories import UserFactory

# --- storage error during an upload ------------------------------------------------------------


class DiskFullStorage(InMemoryStorage):
    """Reads part of the upload, then fails as a full disk does."""

    def _save(self, name, content):
        content.read(1024)
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def disk_full(settings):
    from django.core.files.storage import storages

    settings.STORAGES = {**settings.STORAGES, "artifacts": {"BACKEND": "tests.security.test_faults_and_load.DiskFullStorage"}}
    storages._storages = {}
    yield storages
    storages._storages = {}


@pytest.mark.django_db
def test_a_storage_error_mid_upload_leaves_no_artifact_and_no_ready_version(ds_owner, team_credit, disk_full):
    model = registry.registered_model_create(user=ds_owner, name="disk-full", team=team_credit)
    version, _ = registry.modelversion_register(user=ds_owner, registered_model=model, framework="sklearn", metrics={})
    client = api_for(ds_owner)
    client.raise_request_exception = False
    events = AuditEvent.objects.count()
    response = client.put("/api/v1/models/disk-full/versions/1/artifacts/model/model.skops", data=b"x" * 200_000,
                          content_type="application/octet-stream")
    assert response.status_code >= 500
    assert not Artifact.objects.filter(version=version).exists() and not ArtifactBlob.objects.exists()
    assert AuditEvent.objects.count() == events
    version.refresh_from_db()
    assert version.status != VersionStatus.READY
    # The service answers the next request normally.
    assert client.get("/api/v1/models/disk-full/versions/1/").status_code == 200


# --- Redis down: the API and the portal keep answering ------------------------------------------


@pytest.fixture
def broker_down(settings):
    from modelgate.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager, settings.CELERY_BROKER_URL)
    app.conf.broker_url = settings.CELERY_BROKER_URL = "redis://127.0.0.1:6399/0"
    app.conf.task_always_eager = False
    app._pool = None
    yield app
    app.conf.broker_url, app.conf.task_always_eager, settings.CELERY_BROKER_URL = saved
    app._pool = None


@pytest.mark.django_db
def test_the_api_and_portal_answer_while_the_broker_is_down(broker_down, ds_owner, team_credit, client):
    api = api_for(ds_owner)
    started = time.monotonic()
    created = api.post("/api/v1/models/", data={"name": "broker-down", "team": "credit"}, format="json")
    assert created.status_code == 201, created.content
    assert api.post("/api/v1/models/broker-down/versions/", data={"framework": "sklearn"}, format="json").status_code == 201
    assert api.get("/api/v1/models/").status_code == 200
    client.force_login(ds_owner)
    for url in ("/", "/registry/models/", "/registry/models/broker-down/", "/governance/requests/"):
        assert client.get(url).status_code == 200, url
    assert time.monotonic() - started < 20, "a dead broker must not hang requests"
    # Liveness stays up; readiness names the broker.
    assert Client().get("/healthz").status_code == 200
    ready = Client().get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["broker"]["ok"] is False


# --- PostgreSQL: connections killed under the app ---------------------------------------------------


def _get(url, token, timeout=20):
    # S310: the URL is always the test's own live server (http://localhost:…).
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _terminate_app_connections():
    """Kill every other backend on the test database (the live server's), as a restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres  # pg_terminate_backend kills the app's connections
@pytest.mark.django_db(transaction=True)
def test_requests_fail_cleanly_and_recover_when_database_connections_are_killed(live_server):
    """Clients keep calling while every app connection is killed again and again (as a
    PostgreSQL restart does): each request answers 200 or a clean 5xx, none hangs or is
    reset, and once the kills stop every request succeeds without restarting anything."""
    user = UserFactory(username="pg-fault", roles=[roles.DATA_SCIENTIST])
    _, token = token_create(user=user, name="fault")
    url = f"{live_server.url}/api/v1/models/"
    assert _get(url, token) == 200
    statuses, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                statuses.append(_get(url, token))
            except OSError as exc:  # a reset or a timeout: not a clean failure
                statuses.append(repr(exc))

    clients = [threading.Thread(target=hammer) for _ in range(4)]
    for t in clients:
        t.start()
    killed, deadline = 0, time.monotonic() + 6
    while time.monotonic() < deadline:
        killed += _terminate_app_connections()
        time.sleep(0.1)
    stop.set()
    for t in clients:
        t.join(timeout=60)
    assert killed >= 1, "no app connection was open to kill"
    assert statuses and all(s in (200, 500, 503) for s in statuses), sorted(set(map(str, statuses)))
    assert [_get(url, token) for _ in range(5)] == [200] * 5
    assert _get(f"{live_server.url}/readyz", token) in (200, 503)  # answers; 503 only names a missing broker


# --- concurrency: CI clients registering and approving at once ----------------------------------------


@pytest.mark.postgres  # row locks (SELECT … FOR UPDATE) between concurrent connections
@pytest.mark.django_db(transaction=True)
def test_concurrent_ci_clients_lose_no_write_and_keep_the_audit_chain(live_server, team_credit):
    import importlib

    from django.apps import apps

    from governance.models import Environment

    if not Environment.objects.exists():  # transactional tests flush the seeded environments
        importlib.import_module("governance.migrations.0002_seed_environments").seed(apps, None)
    ds = UserFactory(username="ci-bot", roles=[roles.DATA_SCIENTIST], teams=[team_credit])
    mle = UserFactory(username="ci-mle", roles=[roles.ML_ENGINEER], teams=[team_credit])
    _, ds_token = token_create(user=ds, name="ci")
    _, mle_token = token_create(user=mle, name="ci")
    shared = registry.registered_model_create(user=ds, name="contended", team=team_credit)
    threads_n, seconds = 8, 12
    ok, errors, lock = [], [], threading.Lock()

    def call(method, path, body, token):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{live_server.url}{path}", data=data, method=method,  # noqa: S310
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def client(i):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status, body = call("POST", "/api/v1/models/contended/versions/", {"framework": "sklearn", "metrics": {"auc": 0.8}}, ds_token)
            if status != 201:
                with lock:
                    errors.append(("register", status, body))
                continue
            number = body["version"]
            status, _ = call("POST", f"/api/v1/models/contended/versions/{number}/finalize/", {}, ds_token)
            status_req, req = call("POST", "/api/v1/promotion-requests/", {"version_id": body["id"], "environment": "dev",
                                                                          "reason": f"ci {i}"}, ds_token)
            with lock:
                ok.append(number)
                if status != 200 or status_req != 201:
                    errors.append(("finalize/request", status, status_req, req))
            if status_req == 201:
                status, result = call("POST", f"/api/v1/promotion-requests/{req['id']}/submit/", {}, mle_token)
                if status not in (200, 409):  # 409: gates refuse (no CI results posted); refused cleanly
                    with lock:
                        errors.append(("submit", status, result))

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads_n)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=seconds + 120)
    assert not errors, errors[:5]
    numbers = sorted(ModelVersion.objects.filter(registered_model=shared).values_list("version", flat=True))
    assert numbers == list(range(1, len(numbers) + 1)), "version numbers must be unique and gapless"
    assert sorted(ok) == numbers, "every acknowledged registration is stored (no lost write)"
    assert len(numbers) >= threads_n
    result = verify_chain()
    assert result.ok, result

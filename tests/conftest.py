"""Personas, API clients and real-service fixtures shared by every test module.

Personas (fixed, as in Healthchecks' BaseTestCase):
- ``ds_owner``: data scientist in the owning team ``credit``
- ``mle_teammate``: ML engineer in ``credit``
- ``outsider``: data scientist in another team (``fraud``)
- ``approver``: business approver; ``risk``: risk officer
- ``auditor``: read-only everything; ``admin_user``: administrator
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from modelgate.core import roles
from modelgate.core.services import token_create
from tests.factories import TeamFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
PLOTLY_BUNDLE = ROOT / "static" / "vendor" / "plotly" / "plotly-finance.min.js"
# Queries a warm API request spends on authentication and authorisation before its own: the
# token row with its user. Role names and permissions come from Django's cache
# (``modelgate.core.authz_cache``) once a first request has read them.
AUTH_QUERIES = 1


@pytest.fixture
def team_credit(db):
    return TeamFactory(slug="credit", name="Credit Risk")


@pytest.fixture
def team_fraud(db):
    return TeamFactory(slug="fraud", name="Fraud Detection")


@pytest.fixture
def ds_owner(team_credit):
    return UserFactory(username="dana", roles=[roles.DATA_SCIENTIST], teams=[team_credit])


@pytest.fixture
def mle_teammate(team_credit):
    return UserFactory(username="mel", roles=[roles.ML_ENGINEER], teams=[team_credit])


@pytest.fixture
def outsider(team_fraud):
    return UserFactory(username="otto", roles=[roles.DATA_SCIENTIST], teams=[team_fraud])


@pytest.fixture
def approver(db):
    return UserFactory(username="bea", roles=[roles.BUSINESS_APPROVER])


@pytest.fixture
def risk(db):
    return UserFactory(username="rick", roles=[roles.RISK_OFFICER])


@pytest.fixture
def auditor(db):
    return UserFactory(username="audrey", roles=[roles.AUDITOR])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", roles=[roles.ADMIN])


@pytest.fixture
def api():
    """An API client; ``api.as_user(user)`` authenticates with a real bearer token."""

    client = APIClient()

    def as_user(user):
        _, raw = token_create(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    client.as_user = as_user
    return client


def api_for(user):
    client = APIClient()
    _, raw = token_create(user=user, name="test")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def live_server_app(app):
    """The WSGI app the live server runs: Django's own handler, with nothing in front.
    Static files are served by WhiteNoise in the middleware, as under gunicorn: by the
    hashed names of a ``collectstatic`` manifest and by plain names from the finders alike
    (Django's StaticFilesHandler, which the live server would put in front, knows only the
    finders' plain names and answered 404 to hashed ones)."""
    return app


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, serving ``live_server_app`` so browser and MLflow-client
    tests exercise the middleware chains and static file serving the deployed app runs."""
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    server.thread.static_handler = live_server_app
    server.start()
    yield server
    server.stop()


@pytest.fixture
def run_jobs_inline(settings):
    """Run dispatched jobs in-process even when a broker is configured (for tests
    of a job's logic; the worker path has its own tests marked ``worker``)."""
    from modelgate.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def lose_the_database(transactional_db):
    """``lose()`` drops every table, function and sequence: the new, empty database a restore
    goes into after the machine was lost. Migrated again afterwards if the test left it empty."""
    from django.core.management import call_command

    def lose():
        connection.close()  # a fresh session
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            else:
                cursor.execute("PRAGMA foreign_keys = OFF")
                for table in connection.introspection.table_names(cursor, include_views=True):
                    cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
                cursor.execute("PRAGMA foreign_keys = ON")
        assert connection.introspection.table_names(include_views=True) == []

    yield lose
    if not connection.introspection.table_names():
        call_command("migrate", verbosity=0)


def assert_page_loads_plotly(client, html: str) -> None:
    """The page names the URL modelgate.js fetches plotly.js from, and that URL serves the
    vendored bundle — whatever name the static storage gave it (plain, or hashed after
    ``collectstatic``)."""
    found = re.search(r'<meta name="plotly-src" content="([^"]+)"', html)
    assert found, "the page names no plotly.js URL"
    response = client.get(found.group(1))
    assert response.status_code == 200, found.group(1)
    assert b"".join(response.streaming_content) == PLOTLY_BUNDLE.read_bytes()


# Each pytest process (xdist worker) publishes to, and starts workers on, a queue of its own:
# a worker bound to another process's test database must never take its tasks.
TEST_QUEUE = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def _private_celery_queue():
    from modelgate.celery import app

    app.conf.task_default_queue = TEST_QUEUE
    app.conf.task_default_exchange = TEST_QUEUE
    app.conf.task_default_routing_key = TEST_QUEUE
    for cached in ("queues", "default_queue", "default_exchange", "router"):
        app.amqp.__dict__.pop(cached, None)  # rebuilt from the new defaults on next use
    yield


def _redis_url():
    return os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")


def subprocess_database_url() -> str:
    """DATABASE_URL of the current test database, for a subprocess (a worker, a web server) to use it too."""
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    return f"sqlite:///{settings_dict['NAME']}"


# The test worker's explanation chunks: small, so a test's few hundred rows make several chunks.
WORKER_CHUNK_ROWS = 100


def start_celery_worker():
    """Start a real ``celery worker`` subprocess bound to the current test database over Redis.

    Shaped like docker-compose.yml's worker: Celery's default prefork pool with two
    daemonic pool processes, so what production forbids (forking inside a task) fails here too,
    and one OpenMP thread per pool process.
    """
    broker = _redis_url()
    if not broker:
        pytest.fail("worker tests need REDIS_URL (they are deselected with -m 'not worker' on the embedded run)")
    from django.conf import settings

    env = dict(os.environ, DATABASE_URL=subprocess_database_url(), REPORT_EXPLAIN_CHUNK_ROWS=str(WORKER_CHUNK_ROWS),
               JOB_RETRY_BACKOFF_SECONDS="1", CELERY_TASK_DEFAULT_QUEUE=TEST_QUEUE, OMP_NUM_THREADS="1")
    env.setdefault("SECRET_KEY", "test-worker")
    from modelgate.celery import app

    app.control.purge()  # only this process's queue
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    nodename = f"{TEST_QUEUE}@localhost"
    log_path = settings.VAR_DIR / f"celery-worker-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    with open(log_path, "a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "modelgate", "worker", "--pool=prefork", "--concurrency=2",
             "--without-gossip", "--without-mingle", "--loglevel=INFO", "-Q", TEST_QUEUE, "-n", nodename],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited early; see {log_path}")
        try:
            if app.control.ping(destination=[nodename], timeout=1.0):
                return proc
        except Exception:
            time.sleep(0.5)
    stop_celery_worker(proc)
    pytest.fail("celery worker did not answer a ping within 60 s")


def stop_celery_worker(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class _WorkerHolder:
    proc = None


@pytest.fixture(scope="session")
def _celery_worker_holder(django_db_setup, django_db_blocker):
    holder = _WorkerHolder()
    yield holder
    if holder.proc is not None:
        stop_celery_worker(holder.proc)


@pytest.fixture
def celery_worker_process(_celery_worker_holder):
    """A real ``celery worker`` subprocess (a ``Popen``), shared across tests and
    started again if a previous test killed it.

    Tests using it must commit their data (``transactional_db``). Each pytest process has
    its own queue (``TEST_QUEUE``), so workers of parallel processes never cross.
    """
    holder = _celery_worker_holder
    if holder.proc is None or holder.proc.poll() is not None:
        holder.proc = start_celery_worker()
    return holder.proc


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()

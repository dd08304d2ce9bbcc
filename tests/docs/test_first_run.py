"""The README's first run, followed literally from an empty database.

The ``bash`` and ``python`` blocks of README's "First run" run as written: the bootstrap
command against a new, empty SQLite database (the embedded default), then the MLflow
client snippet against a real gunicorn serving that database, with only the environment
variables the README names. The model must then be registered and owned by the team.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PORT = 8241  # this helper's range; no other test serves on it
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def first_run_blocks() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### First run")
    end = readme.index("\n### ", start + 1)
    return BLOCK.findall(readme[start:end])


@pytest.fixture
def empty_installation(tmp_path):
    """Environment of a machine with nothing set up: a database file that does not exist yet."""
    database = tmp_path / "fresh.sqlite3"
    # The production settings module, not the test run's (tests/settings.py), and no services.
    dropped = ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "MODELGATE_TEST_VAR_DIR")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update(
        DATABASE_URL=f"sqlite:///{database}", MODELGATE_VAR_DIR=str(tmp_path / "var"), SECRET_KEY="first-run-test-key",
        ARTIFACT_STORE=str(tmp_path / "artifacts"), SECURE_COOKIES="false", DEBUG="false",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # `python` is this virtualenv's
    )
    assert not database.exists()
    return env, database


def _serve(env, log_path):
    log = open(log_path, "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:modelgate.gunicorn", "modelgate.wsgi",
         "--bind", f"127.0.0.1:{PORT}", "--workers", "1", "--threads", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{PORT}/healthz", timeout=5).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet, or its worker still starting
            time.sleep(0.3)
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    pytest.fail(f"gunicorn did not answer within 60 s: {Path(log_path).read_text()[-2000:]}")


def test_the_readme_first_run_registers_a_model_from_an_empty_database(empty_installation, tmp_path):
    env, database = empty_installation
    blocks = first_run_blocks()
    assert [kind for kind, _ in blocks] == ["bash", "python"]

    bootstrap = subprocess.run(["bash", "-euo", "pipefail", "-c", blocks[0][1]], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
    assert bootstrap.returncode == 0, bootstrap.stderr
    token = re.search(r"^MLFLOW_TRACKING_TOKEN=(mg_\S+)$", bootstrap.stdout, re.MULTILINE)
    assert token, bootstrap.stdout
    assert re.search(r"^Administrator: ada  password: \S+", bootstrap.stdout, re.MULTILINE)

    server = _serve(env, tmp_path / "gunicorn.log")
    try:
        client_env = {**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{PORT}", "MLFLOW_TRACKING_TOKEN": token.group(1),
                      "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
        snippet = subprocess.run([sys.executable, "-c", blocks[1][1]], cwd=tmp_path, env=client_env,
                                 capture_output=True, text=True, timeout=120)
        assert snippet.returncode == 0, snippet.stderr[-3000:]
        assert "registered credit-scorer version 1: READY" in snippet.stdout

        listed = requests.get(f"http://127.0.0.1:{PORT}/api/v1/models/credit-scorer/",
                              headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10)
        assert listed.status_code == 200, listed.text
        assert listed.json()["team"] == "credit-risk"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    with sqlite3.connect(database) as db:
        actions = [row[0] for row in db.execute("SELECT action FROM core_auditevent WHERE source = 'command' ORDER BY id")]
    assert actions[:4] == ["user.grant_role", "team.create", "team.add_member", "token.create"]


def test_bootstrap_again_creates_nothing_twice_but_a_new_token(empty_installation):
    env, database = empty_installation
    command = [sys.executable, "manage.py", "bootstrap", "--admin", "ada", "--team", "Credit Risk"]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "Administrator: ada  password: " in first.stdout
    assert "Administrator: ada (already there; left as it was)" in second.stdout
    tokens = [re.search(r"MLFLOW_TRACKING_TOKEN=(\S+)", out).group(1) for out in (first.stdout, second.stdout)]
    assert tokens[0] != tokens[1]
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM auth_user").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM core_team").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM core_apitoken").fetchone() == (2,)

"""The login lockout holds across web processes: failures are counted in the database.

Two gunicorn servers (separate processes, as two workers of one deployment are) serve
the test database. With the count kept in each process's memory, as the embedded
default's cache did, five failures on each never reached the limit and the right
password then logged in.
"""

import base64
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import requests

from tests.conftest import ROOT, subprocess_database_url, wait_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-for-tests-only"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _up(url) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def two_web_processes():
    env = dict(os.environ, DATABASE_URL=subprocess_database_url(), SECRET_KEY="test-web", SECURE_COOKIES="false",
               WEB_CONCURRENCY="1")
    servers = []
    try:
        for _ in range(2):
            url = f"http://127.0.0.1:{_free_port()}"
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:modelgate.gunicorn", "modelgate.wsgi",
                 "--bind", url.removeprefix("http://")],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
            servers.append((url, proc))
        for url, proc in servers:
            assert wait_for(lambda url=url, proc=proc: proc.poll() is not None or _up(url), timeout=60) and proc.poll() is None, url
        yield [url for url, _ in servers]
    finally:
        for _, proc in servers:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def _portal_login(url, username, password) -> requests.Response:
    session = requests.Session()
    page = session.get(url + "/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(url + "/accounts/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                        headers={"Referer": url + "/accounts/login/"}, allow_redirects=False, timeout=30)


def _mlflow(url, username, password) -> requests.Response:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return requests.get(url + "/api/2.0/mlflow/registered-models/search", headers={"Authorization": f"Basic {auth}"}, timeout=30)


def test_the_eleventh_attempt_is_refused_whichever_process_and_surface_counted_the_ten(two_web_processes):
    first, second = two_web_processes
    UserFactory(username="locky")

    # Five wrong passwords on the first process's portal, five on the second's MLflow API.
    assert [_portal_login(first, "locky", "wrong").status_code for _ in range(5)] == [200] * 5
    assert [_mlflow(second, "locky", "wrong").status_code for _ in range(5)] == [401] * 4 + [429]

    portal = _portal_login(first, "locky", PASSWORD)
    mlflow = _mlflow(second, "locky", PASSWORD)

    assert portal.status_code == 429 and "locked" in portal.text
    assert (mlflow.status_code, mlflow.json()["error_code"]) == (429, "REQUEST_LIMIT_EXCEEDED")

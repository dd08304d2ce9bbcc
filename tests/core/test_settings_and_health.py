import os
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import ROOT


def _manage(*args, env):
    # A clean process environment: nothing of the test run's own settings (DJANGO_ALLOW_ASYNC_UNSAFE
    # is set for the live-server tests and would trip the deployment check).
    dropped = ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60)


def test_it_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _manage("check", env={"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "DEBUG" in result.stderr


def test_it_starts_with_a_secret_key_and_debug_off():
    result = _manage("check", env={"DEBUG": "false", "SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr


def test_it_rejects_a_malformed_boolean_and_a_wildcard_host():
    bad_bool = _manage("check", env={"DEBUG": "maybe"})
    assert bad_bool.returncode != 0 and "DEBUG must be true or false" in bad_bool.stderr
    wildcard = _manage("check", env={"DEBUG": "true", "ALLOWED_HOSTS": "*"})
    assert wildcard.returncode != 0 and "ALLOWED_HOSTS" in wildcard.stderr


def test_healthz_answers_without_authentication(db):
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_broker_and_artifact_store(db):
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "artifact_store"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_reports_503_when_the_artifact_store_is_unusable(db, settings, tmp_path):
    from django.core.files.storage import storages

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the store folder should be")
    settings.STORAGES = settings.STORAGES | {
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(blocked)}}
    }
    storages._storages.pop("artifacts", None)
    try:
        response = Client().get("/readyz")
    finally:
        storages._storages.pop("artifacts", None)
    assert response.status_code == 503
    assert response.json()["checks"]["artifact_store"]["ok"] is False


def test_check_deploy_is_clean_with_the_production_settings_of_env_example():
    production = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            production[key] = value
    production["SECRET_KEY"] = "a-production-grade-secret-key-" + "x" * 40
    production.pop("EMAIL_BACKEND", None)
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production | {"MODELGATE_VAR_DIR": "/tmp/mg-check-deploy"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.postgres  # pg_terminate_backend: the server closes a connection
@pytest.mark.django_db
def test_the_health_check_sees_a_connection_the_server_closed_and_passes_a_live_one():
    import time

    from django.db import connection, connections

    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        assert other.is_usable()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [other.connection.info.backend_pid])
        deadline = time.monotonic() + 5
        while other.is_usable() and time.monotonic() < deadline:  # the termination takes a moment
            time.sleep(0.05)
        assert not other.is_usable()
    finally:
        other.close()

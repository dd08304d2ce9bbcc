"""The deployed WSGI entry point (``modelgate.wsgi.application``, Django's own handler):
MLflow paths get every security header, host check, request id and audit context, and
take only token or HTTP Basic credentials, never a session cookie."""

import io
import json
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from modelgate.core.models import AuditEvent
from modelgate.core.services import token_create
from modelgate.wsgi import application
from registry.models import RegisteredModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded_environments")]


@contextmanager
def _inside_the_test_transaction():
    # As Django's test client does: a request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call(path, *, method="POST", body=None, host="testserver", **headers):
    data = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.9.8.7", "HTTP_HOST": host, "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data), "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(), **headers,
    }
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), response_headers

    with _inside_the_test_transaction():
        result = application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()
    return started["status"], started["headers"], content


def _bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=user, name='entry')[1]}"}


def test_an_mlflow_write_keeps_the_security_headers_and_the_audit_context(ds_owner):
    status, headers, content = _call("/api/2.0/mlflow/registered-models/create", body={"name": "via-wsgi"},
                                     HTTP_X_REQUEST_ID="ci-run-42", **_bearer(ds_owner))
    assert status == 200, content
    names = [name.lower() for name, _ in headers]
    values = {name.lower(): value for name, value in headers}
    assert values["x-content-type-options"] == "nosniff"
    assert values["x-frame-options"] == "DENY"
    assert values["referrer-policy"] == "same-origin"
    assert values["cross-origin-opener-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in values["content-security-policy"]
    assert values["x-request-id"] == "ci-run-42"
    assert values["content-length"] == str(len(content))
    assert "set-cookie" not in names  # no session or CSRF cookie on a token-only path
    assert json.loads(content)["registered_model"]["name"] == "via-wsgi"
    event = AuditEvent.objects.get(action="registry.model.create")
    assert (event.actor_username, event.source, event.request_id, event.client_ip) == ("dana", "api", "ci-run-42", "10.9.8.7")


def test_a_foreign_host_header_is_refused_on_mlflow_paths(ds_owner):
    status, _, _ = _call("/api/2.0/mlflow/registered-models/create", body={"name": "evil"}, host="evil.example",
                         **_bearer(ds_owner))
    assert status == 400
    assert not RegisteredModel.objects.exists()


def test_a_session_cookie_is_not_a_credential_on_mlflow_paths(ds_owner, client):
    client.force_login(ds_owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    status, _, content = _call("/api/2.0/mlflow/registered-models/create", body={"name": "via-cookie"}, HTTP_COOKIE=cookie)
    assert (status, json.loads(content)["error_code"]) == (401, "UNAUTHENTICATED")
    assert not RegisteredModel.objects.exists()


def test_the_entry_point_is_djangos_own_wsgi_handler():
    from django.core.handlers.wsgi import WSGIHandler

    assert type(application) is WSGIHandler


def test_other_paths_run_the_browser_middleware():
    status, headers, _ = _call("/accounts/login/", method="GET")
    assert status == 200
    cookies = " ".join(value for name, value in headers if name.lower() == "set-cookie")
    assert settings.CSRF_COOKIE_NAME in cookies  # CsrfViewMiddleware ran
    status, headers, _ = _call("/", method="GET")
    assert status == 302 and dict(headers)["Location"].startswith("/accounts/login/")  # the session user is looked at

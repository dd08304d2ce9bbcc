"""Uploads under gunicorn, read through ``request.read()``.

Each test opens a real TCP connection, lets gunicorn's own parser read the
request from it (as its workers do), builds the environ with gunicorn's
``wsgi.create`` and runs the whole Django stack on it. What must hold: the
stored bytes are the sent bytes, the connection is left at the start of the
next request (pipelining keeps working), and a short or refused body stores nothing.
"""

import hashlib
import os
import socket
import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from modelgate.core.services import token_create
from registry import request_body
from registry.models import Artifact, ArtifactBlob
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/models/credit-scorer/versions/1/artifacts/model/model.bin"


@pytest.fixture
def token(ds_owner, team_credit):
    make_version(ds_owner, make_model(ds_owner, team_credit))
    return token_create(user=ds_owner, name="upload")[1]


class Connection:
    """A client socket and the server side of it, parsed by gunicorn."""

    def __init__(self):
        listener = socket.create_server(("127.0.0.1", 0))
        self.client = socket.create_connection(listener.getsockname())
        self.server, self.peer = listener.accept()
        self.server.settimeout(20)  # a bookkeeping bug must fail the test, not hang it
        listener.close()
        self.cfg = Config()
        self.parser = RequestParser(self.cfg, self.server, self.peer)

    def send_in_background(self, data: bytes, *, then_close: bool = False) -> threading.Thread:
        def send():
            self.client.sendall(data)
            if then_close:
                self.client.shutdown(socket.SHUT_WR)

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        return thread

    def next_request(self):
        request = next(self.parser)
        _, environ = wsgi.create(request, self.server, self.peer, ("127.0.0.1", 8000), self.cfg)
        return request, environ

    def close(self):
        self.client.close()
        self.server.close()


@pytest.fixture
def connection():
    conn = Connection()
    yield conn
    conn.close()


def put_request(token: str, body: bytes, *, sha256: str, length: int | None = None) -> bytes:
    head = (
        f"PUT {URL} HTTP/1.1\r\nHost: testserver\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/octet-stream\r\nX-Content-SHA256: {sha256}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


def get_request(token: str) -> bytes:
    return f"GET {URL} HTTP/1.1\r\nHost: testserver\r\nAuthorization: Bearer {token}\r\n\r\n".encode()


def run_django(environ) -> tuple[str, bytes]:
    status = []
    response = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        content = b"".join(response)
    finally:
        response.close()
    return status[0], content


def test_an_upload_stores_the_exact_bytes_and_the_next_pipelined_request_is_intact(connection, token):
    # Not a multiple of the chunk size, and sent together with the next request so
    # gunicorn's read-ahead holds the start of the body and the start of the GET.
    body = os.urandom(3 * 1024 * 1024 + 12345)
    digest = hashlib.sha256(body).hexdigest()
    connection.send_in_background(put_request(token, body, sha256=digest) + get_request(token))

    _, environ = connection.next_request()
    status, content = run_django(environ)

    assert status.startswith("201"), content
    assert Artifact.objects.get().blob_id == digest
    following, environ = connection.next_request()
    assert (following.method, following.path) == ("GET", URL)
    status, content = run_django(environ)
    assert status.startswith("200") and hashlib.sha256(content).hexdigest() == digest


def test_a_body_cut_short_is_refused_stores_nothing_and_closes_the_connection(connection, token):
    body = os.urandom(2 * 1024 * 1024)
    sent = put_request(token, body[: 1024 * 1024], sha256=hashlib.sha256(body).hexdigest(), length=len(body))
    connection.send_in_background(sent, then_close=True)

    _, environ = connection.next_request()
    status, content = run_django(environ)

    assert status.startswith("400"), content
    assert b"incomplete_body" in content and b'"file"' in content
    assert not Artifact.objects.exists() and not ArtifactBlob.objects.exists()


def test_a_wrong_hash_reads_the_whole_body_so_the_connection_stays_usable(connection, token):
    body = os.urandom(1024 * 1024 + 1)
    connection.send_in_background(put_request(token, body, sha256="0" * 64) + get_request(token))

    _, environ = connection.next_request()
    status, content = run_django(environ)

    assert status.startswith("400") and b"hash_mismatch" in content
    assert not Artifact.objects.exists() and not ArtifactBlob.objects.exists()
    following, _ = connection.next_request()
    assert following.method == "GET"


def test_without_gunicorn_the_same_reader_reads_the_same_bytes(rf):
    body = os.urandom(300_000)
    request = rf.put(URL, data=body, content_type="application/octet-stream")

    assert b"".join(request_body.iter_request_body(request, 64 * 1024)) == body

"""The web worker (modelgate/gunicorn_worker.py) closes a finished connection at once
when nothing is left to read, and lingers as gunicorn does otherwise.

Each test serves one real TCP connection with the worker's own ``handle`` (gunicorn's
parser, environ and response writer) and watches what it hands to gunicorn's
lingering close: an already closed socket means the worker did not wait for the
client; an open one means gunicorn drains it first, as it must when request bytes
may still arrive.
"""

import os
import socket
import threading

import gunicorn.util
import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from modelgate.gunicorn_worker import SyncWorker, nothing_left_to_read


def hello_app(environ, start_response):
    # Never reads the body: like a view that refuses an upload before reading it.
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


class Served:
    """One request handled by the worker; what the client received and how the socket was closed."""

    def __init__(self, monkeypatch, request: bytes, *, more: bytes = b"", app=hello_app):
        handed_over = []
        original = gunicorn.util.close_graceful

        def watching_close(sock, *args, **kwargs):
            handed_over.append(sock.fileno() == -1)  # -1: already closed by the worker
            return original(sock, *args, **kwargs)

        monkeypatch.setattr(gunicorn.util, "close_graceful", watching_close)
        cfg = Config()
        worker = SyncWorker(0, os.getpid(), [], None, 30, cfg, Logger(cfg))
        worker.wsgi = app
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname(), timeout=20)
        server, peer = listener.accept()
        server.settimeout(20)  # a bug must fail the test, not hang it
        client.sendall(request)
        done = threading.Thread(target=worker.handle, args=(listener, server, peer), daemon=True)
        done.start()
        received = b""
        while b"hello" not in received and (chunk := client.recv(65536)):
            received += chunk
        if more:
            client.sendall(more)  # the rest of a body the app never read
        client.shutdown(socket.SHUT_WR)  # lets a lingering close finish
        while chunk := client.recv(65536):
            received += chunk
        done.join(20)
        client.close()
        listener.close()
        self.response = received
        self.closed_before_lingering = handed_over == [True]


def test_it_closes_a_finished_connection_without_waiting_for_the_client(monkeypatch):
    served = Served(monkeypatch, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    assert served.response.startswith(b"HTTP/1.1 200 OK") and served.response.endswith(b"hello")
    assert served.closed_before_lingering


def test_it_closes_at_once_after_a_body_read_to_its_end(monkeypatch):
    def reading_app(environ, start_response):
        assert environ["wsgi.input"].read() == b"abc"
        return hello_app(environ, start_response)

    served = Served(monkeypatch, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", app=reading_app)
    assert served.response.endswith(b"hello")
    assert served.closed_before_lingering


@pytest.mark.parametrize("request_bytes, more", [
    # The app answered without reading the body: the client may still be sending it.
    (b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10, b"y" * 99_990),
    # A chunked body nobody read.
    (b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", b"0\r\n\r\n"),
])
def test_it_lingers_as_gunicorn_does_while_request_bytes_may_still_arrive(monkeypatch, request_bytes, more):
    served = Served(monkeypatch, request_bytes, more=more)
    # The whole response arrives (a reset would have cut it) and gunicorn's drain ran on an open socket.
    assert served.response.startswith(b"HTTP/1.1 200 OK") and served.response.endswith(b"hello")
    assert not served.closed_before_lingering


def test_nothing_left_to_read_sees_bytes_waiting_in_the_kernel():
    class Request:
        class body:  # noqa: N801 - the shape of gunicorn's request
            from gunicorn.http.body import LengthReader

            reader = LengthReader(None, 0)

    left, right = socket.socketpair()
    try:
        assert nothing_left_to_read(Request, right)
        left.sendall(b"GET /pipelined HTTP/1.1\r\n")
        assert not nothing_left_to_read(Request, right)
        right.recv(100)
        left.shutdown(socket.SHUT_WR)  # the client closed its side: nothing more can come
        assert nothing_left_to_read(Request, right)
    finally:
        left.close()
        right.close()

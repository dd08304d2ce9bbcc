"""gunicorn's synchronous worker, minus the wait for the client's goodbye.

After every response gunicorn half-closes the connection and then reads from it
until the client closes its side (up to 2 s), so that request bytes still unread
in the kernel cannot turn the close into a reset that destroys the response on
its way (RFC 9112 section 9.6). A synchronous worker serves nothing else while
it waits: on the MLflow write benchmark that was ~5 % of each worker's time
spent waiting for load-generator threads to notice the end of their answers.

The reset can only happen when unread bytes reach the closed socket. When the
request's body was read to its announced end and nothing more has arrived, the
client has nothing left in flight (the response says ``Connection: close``), so
the socket is closed at once, as nginx's ``lingering_close on`` also does. In
any other case (a body left unread, say an upload answered 401 or 413 before
reading it; bytes already waiting; a chunked body) gunicorn lingers as before.
"""

from __future__ import annotations

import socket

from gunicorn.http.body import LengthReader
from gunicorn.workers import sync


def nothing_left_to_read(req, client: socket.socket) -> bool:
    """Whether ``client`` can be closed without lingering after answering ``req``."""
    reader = getattr(getattr(req, "body", None), "reader", None)
    if not isinstance(reader, LengthReader) or reader.length:
        return False  # a chunked body, or one read short of its Content-Length
    try:
        waiting = client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True  # nothing in the kernel's buffer
    except OSError:
        return False  # let gunicorn's own close deal with a broken socket
    return waiting == b""  # the client already closed its side


class SyncWorker(sync.SyncWorker):
    def handle_request(self, listener, req, client, addr):
        super().handle_request(listener, req, client, addr)
        # Reached only once the whole response was written. gunicorn's lingering close,
        # which runs next, returns at once for a socket closed here.
        if nothing_left_to_read(req, client):
            client.close()

"""Django's PostgreSQL backend with a health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django run ``SELECT 1`` before the first query of
every request on a reused connection, so that a connection the server has
closed (a restart, an idle timeout, a killed backend) is replaced instead of
failing the request. That is one extra round trip on every API request.

A connection the server closed has something waiting on its socket: the
server's goodbye message, or the end of the stream. A healthy idle connection
has nothing to read (this app does not LISTEN). So: nothing to read, it is
usable; anything to read, ask the server with Django's own ``SELECT 1``,
which fails (and the connection is replaced) if it really is gone.

A peer that vanished without a word (a dropped NAT entry) leaves nothing to
read either: TCP keepalives (settings) make the kernel notice it and flag the
socket, which this check then sees.
"""

import select

from django.db.backends.postgresql import base
from psycopg2.extensions import TRANSACTION_STATUS_IDLE


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        raw = self.connection
        if raw is None or raw.closed:
            return False
        if raw.info.transaction_status != TRANSACTION_STATUS_IDLE:
            return super().is_usable()  # not at rest between requests: ask the server
        try:
            poller = select.poll()  # poll, not select: select refuses descriptors above 1023
            poller.register(raw.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            waiting = poller.poll(0)
        except (OSError, ValueError):  # the socket is already gone
            return False
        return not waiting or super().is_usable()

"""Django's PostgreSQL backend, with fewer round trips per request.

**A health check that costs no round trip.** ``CONN_HEALTH_CHECKS`` makes Django
run ``SELECT 1`` before the first query of every request on a reused connection,
so that a connection the server has closed (a restart, an idle timeout, a killed
backend) is replaced instead of failing the request. That is one extra round trip
on every API request.

A connection the server closed has something waiting on its socket: the
server's goodbye message, or the end of the stream. A healthy idle connection
has nothing to read (this app does not LISTEN). So: nothing to read, it is
usable; anything to read, ask the server with Django's own ``SELECT 1``,
which fails (and the connection is replaced) if it really is gone.

A peer that vanished without a word (a dropped NAT entry) leaves nothing to
read either: TCP keepalives (settings) make the kernel notice it and flag the
socket, which this check then sees.

**Statements whose answer nobody waits for travel with the next one.** Each
round trip costs ~40 µs of CPU on each side of the socket on the development
VM, about as much as a small statement's own work. Two of them per write carried
nothing the application waited for:

- ``BEGIN``: with autocommit off, psycopg2 sends it alone before a
  transaction's first statement. Here the driver stays in autocommit mode and
  the text ``BEGIN;`` goes in front of that first statement, in the same
  simple-query message; ``COMMIT`` and ``ROLLBACK`` are sent explicitly.
- Writes *deferred* with ``DatabaseWrapper.defer`` (the audit trail's append,
  which every write ends with): they are sent in front of the transaction's next
  statement, or of its ``COMMIT``, and dropped with a ``ROLLBACK``. They run in
  the same transaction and in the same order as if sent at once. What changes is
  when an error they raise is seen: with the next statement or the commit, which
  fails the transaction all the same (nothing is half-written).

Django's transaction management is unchanged above this: ``atomic``, savepoints
and ``on_commit`` see a connection whose autocommit is off, as before, and
``connection.queries`` lists every statement.
"""

from __future__ import annotations

import select

import psycopg2.extensions
from django.db.backends.postgresql import base
from django.db.backends.utils import debug_transaction
from psycopg2.extensions import TRANSACTION_STATUS_IDLE


class Connection(psycopg2.extensions.connection):
    """psycopg2's connection, always in autocommit mode, holding what must be sent
    in front of the next statement: ``BEGIN`` (Django asked for a transaction that
    no statement has opened yet) and deferred writes."""

    begin_pending = False  # Django turned autocommit off; BEGIN goes with the next statement
    in_transaction = False  # our BEGIN was sent; COMMIT or ROLLBACK closes it
    deferred: list[str] | None = None  # interpolated statements waiting for the next message

    def take_prefix(self) -> tuple[str, tuple]:
        """The text to send in front of the next statement (``""`` if none), and
        what to restore if that message turns out never to have run."""
        taken = (self.begin_pending, self.deferred)
        parts = ["BEGIN"] if self.begin_pending else []
        parts.extend(self.deferred or ())
        if not parts:
            return "", taken
        if self.begin_pending:
            self.begin_pending, self.in_transaction = False, True
        self.deferred = None
        return ";".join(parts) + ";", taken

    def send_prefix_alone(self) -> None:
        """Send what is pending in a message of its own (for statements it cannot go in front of)."""
        prefix, taken = self.take_prefix()
        if prefix:
            _send(self, prefix, taken)

    def message_failed(self, taken: tuple) -> None:
        """The message that carried the prefix failed. If the server is outside a
        transaction, none of it ran (a parse error or a lost connection stops the
        whole message): put BEGIN and the deferred writes back, or the next
        statement would run outside the transaction and without them. Otherwise the
        transaction is aborted and only a rollback can follow."""
        if self.closed or self.info.transaction_status != TRANSACTION_STATUS_IDLE:
            return
        begin_pending, deferred = taken
        if begin_pending:
            self.begin_pending, self.in_transaction = True, False
        if deferred:
            self.deferred = [*deferred, *(self.deferred or ())]


class Cursor(psycopg2.extensions.cursor):
    """Sends the connection's pending prefix in the same message as the statement."""

    def execute(self, query, vars=None):
        connection = self.connection
        if self.name is not None or not isinstance(query, str):
            # A named cursor wraps its query in DECLARE; composed SQL is not text yet.
            connection.send_prefix_alone()
            return super().execute(query, vars)
        prefix, taken = connection.take_prefix()
        if not prefix:
            return super().execute(query, vars)
        if vars is not None:
            prefix = prefix.replace("%", "%%")  # the prefix is already interpolated
        try:
            return super().execute(prefix + query, vars)
        except Exception:
            connection.message_failed(taken)
            raise

    def executemany(self, query, vars_list):
        self.connection.send_prefix_alone()
        return super().executemany(query, vars_list)

    def callproc(self, procname, parameters=None):
        self.connection.send_prefix_alone()
        return super().callproc(procname, parameters)


def _send(connection: Connection, sql: str, taken: tuple = (False, None)) -> None:
    """One message of its own, bypassing the prefix logic."""
    try:
        with connection.cursor() as cursor:
            psycopg2.extensions.cursor.execute(cursor, sql)
    except Exception:
        connection.message_failed(taken)
        raise


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if self._sends_ahead():
            params["connection_factory"] = Connection
            params["cursor_factory"] = Cursor
        return params

    def _sends_ahead(self) -> bool:
        # An isolation level of our own, or another connection or cursor class, is
        # psycopg2's to apply with its own BEGIN: keep its behaviour then.
        options = self.settings_dict["OPTIONS"]
        return not ({"isolation_level", "connection_factory", "cursor_factory"} & set(options))

    def can_defer(self) -> bool:
        """Whether ``defer`` would take a statement now: inside a healthy ``atomic``, on this backend's connection."""
        return self.in_atomic_block and not self.needs_rollback and isinstance(self.connection, Connection)

    def defer(self, sql: str, params) -> bool:
        """Send a write whose result nobody reads with the transaction's next
        statement or its COMMIT. Returns False (and sends nothing) where it cannot
        defer (``can_defer``): the caller then executes it as usual."""
        if not self.can_defer():
            return False
        raw = self.connection
        with raw.cursor() as cursor:  # interpolation only: mogrify sends nothing
            text = cursor.mogrify(sql, params).decode()
        raw.deferred = [*(raw.deferred or ()), text]
        if self.queries_logged:  # still one statement in connection.queries, as if sent now
            self.queries_log.append({"sql": text, "time": "0.000"})
        return True

    def _set_autocommit(self, autocommit):
        raw = self.connection
        if not isinstance(raw, Connection):
            return super()._set_autocommit(autocommit)
        with self.wrap_database_errors:
            if not raw.autocommit:
                raw.autocommit = True
        # Django commits or rolls back before turning autocommit back on.
        raw.begin_pending, raw.in_transaction, raw.deferred = not autocommit, False, None

    def _commit(self):
        raw = self.connection
        if not isinstance(raw, Connection):  # not connected, or psycopg2's own transactions
            return super()._commit()
        with debug_transaction(self, "COMMIT"):
            if raw.in_transaction or raw.deferred:  # else no statement ran: nothing to commit
                prefix, taken = raw.take_prefix()  # deferred writes (and BEGIN if none was sent)
                with self.wrap_database_errors:
                    _send(raw, prefix + "COMMIT", taken)
                raw.in_transaction = False
            # Still inside Django's transaction (autocommit off): the next statement opens the next one.
            raw.begin_pending = not self.autocommit
        return None

    def _rollback(self):
        raw = self.connection
        if not isinstance(raw, Connection):
            return super()._rollback()
        with debug_transaction(self, "ROLLBACK"):
            raw.deferred = None
            if raw.in_transaction or raw.info.transaction_status != TRANSACTION_STATUS_IDLE:
                with self.wrap_database_errors:
                    _send(raw, "ROLLBACK")
                raw.in_transaction = False
            raw.begin_pending = not self.autocommit
        return None

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

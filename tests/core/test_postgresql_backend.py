"""The PostgreSQL backend (modelgate/core/postgresql): BEGIN rides with a transaction's
first statement and deferred writes with its next one or its COMMIT, and Django's
transactions keep their meaning.

A second connection watches the first: what it cannot see or lock yet was not sent
(or not committed); what it then sees was. Every test here talks to PostgreSQL.
"""

import pytest
from django.db import DatabaseError, IntegrityError, ProgrammingError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS

from modelgate.core import audit
from modelgate.core.models import AuditChainHead, AuditEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def probe():
    """A scratch table, and a second connection that watches it."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE mg_backend_probe (id integer PRIMARY KEY, note text NOT NULL)")
        cursor.execute("INSERT INTO mg_backend_probe VALUES (1, 'first')")
    watcher = connections.create_connection("default")
    watcher.ensure_connection()
    watcher.set_autocommit(True)

    def rows():
        with watcher.cursor() as cursor:
            cursor.execute("SELECT id, note FROM mg_backend_probe ORDER BY id")
            return cursor.fetchall()

    def locked(row_id: int) -> bool:
        with watcher.cursor() as cursor:  # autocommit: the lock, if taken, ends with the statement
            try:
                cursor.execute("SELECT 1 FROM mg_backend_probe WHERE id = %s FOR UPDATE NOWAIT", [row_id])
            except DatabaseError:  # lock_not_available
                return True
        return False

    yield rows, locked
    watcher.close()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE mg_backend_probe")


def test_it_opens_the_transaction_with_its_first_statement(probe):
    rows, _ = probe
    with transaction.atomic():
        raw = connection.connection
        assert raw.info.transaction_status == TRANSACTION_STATUS_IDLE  # no BEGIN sent on its own
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO mg_backend_probe VALUES (2, 'second')")
        assert raw.info.transaction_status == TRANSACTION_STATUS_INTRANS
        assert rows() == [(1, "first")]  # inside the transaction: not visible yet
    assert raw.info.transaction_status == TRANSACTION_STATUS_IDLE
    assert rows() == [(1, "first"), (2, "second")]


def test_a_deferred_write_is_sent_with_the_next_statement_and_commits_with_the_transaction(probe):
    rows, locked = probe
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT note FROM mg_backend_probe WHERE id = 1")
        assert connection.defer("UPDATE mg_backend_probe SET note = %s WHERE id = %s", ["100% deferred", 1])
        assert not locked(1)  # not sent yet
        with connection.cursor() as cursor:  # parameters of its own: the deferred text's % must survive
            cursor.execute("SELECT note FROM mg_backend_probe WHERE id = %s", [1])
            assert cursor.fetchone() == ("100% deferred",)  # ran first, in this transaction
        assert locked(1)  # sent with that statement, lock held until COMMIT
        assert rows() == [(1, "first")]
    assert rows() == [(1, "100% deferred")]


def test_a_deferred_write_left_last_goes_with_the_commit(probe):
    rows, locked = probe
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [2, "at commit"])
        assert not locked(1) and rows() == [(1, "first")]
    assert rows() == [(1, "first"), (2, "at commit")]
    # Listed once in connection.queries, as if sent when deferred.
    assert sum("at commit" in q["sql"] for q in queries.captured_queries) == 1


def test_a_deferred_write_is_dropped_with_a_rollback(probe):
    rows, _ = probe
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO mg_backend_probe VALUES (2, 'sent')")
        connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [3, "deferred"])
        raise RuntimeError("the service failed")
    assert rows() == [(1, "first")]
    with connection.cursor() as cursor:  # the connection is fine for the next request
        cursor.execute("SELECT 1")
        assert connection.connection.info.transaction_status == TRANSACTION_STATUS_IDLE


def test_a_failing_deferred_write_fails_the_commit_and_stores_nothing(probe):
    rows, _ = probe
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO mg_backend_probe VALUES (2, 'sent')")
        connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [3, None])  # NOT NULL
    assert rows() == [(1, "first")]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO mg_backend_probe VALUES (4, 'next transaction')")
    assert rows() == [(1, "first"), (4, "next transaction")]


def test_savepoints_keep_their_meaning_around_deferred_writes(probe):
    rows, _ = probe
    with transaction.atomic():
        connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [2, "before the savepoint"])
        with pytest.raises(RuntimeError), transaction.atomic():
            connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [3, "inside, rolled back"])
            raise RuntimeError
        with transaction.atomic():
            connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [4, "inside, released"])
    assert rows() == [(1, "first"), (2, "before the savepoint"), (4, "inside, released")]


def test_a_statement_that_never_ran_leaves_the_next_one_inside_the_transaction(probe):
    rows, _ = probe
    with pytest.raises(RuntimeError), transaction.atomic():
        connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [2, "deferred"])
        with connection.cursor() as cursor:
            with pytest.raises(ProgrammingError):
                cursor.execute("SELEC 1")  # a syntax error: the message with BEGIN and the write never ran
            cursor.execute("INSERT INTO mg_backend_probe VALUES (3, 'after the error')")
            cursor.execute("SELECT count(*) FROM mg_backend_probe")
            assert cursor.fetchone() == (3,)  # the deferred write went with this message instead
        assert rows() == [(1, "first")]  # and all of it is inside the transaction
        raise RuntimeError
    assert rows() == [(1, "first")]


def test_a_server_side_cursor_opens_the_transaction_first(probe):
    rows, _ = probe
    with transaction.atomic():
        connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [2, "deferred"])
        with connection.chunked_cursor() as cursor:  # DECLARE … CURSOR, as QuerySet.iterator() uses
            cursor.execute("SELECT id FROM mg_backend_probe ORDER BY id")
            assert [row[0] for row in cursor.fetchall()] == [1, 2]
        assert rows() == [(1, "first")]
    assert rows() == [(1, "first"), (2, "deferred")]


def test_nothing_is_deferred_outside_a_transaction(probe):
    rows, _ = probe
    assert not connection.defer("INSERT INTO mg_backend_probe VALUES (%s, %s)", [2, "x"])
    assert rows() == [(1, "first")]


def test_a_deferred_audit_append_refuses_to_lose_its_event_when_the_chain_head_is_gone(ds_owner):
    with transaction.atomic():
        assert audit.record(action="test.deferred", object_type="test.thing").pk is None  # deferred to the commit
    assert AuditEvent.objects.filter(action="test.deferred").exists()
    assert audit.verify_chain().ok
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditchainhead")
    with pytest.raises(IntegrityError), transaction.atomic():
        audit.record(action="test.headless", object_type="test.thing")
    assert not AuditEvent.objects.filter(action="test.headless").exists()
    AuditChainHead.objects.create(pk=1, last_hash=AuditEvent.objects.latest("id").hash)  # put the head back
    assert audit.verify_chain().ok

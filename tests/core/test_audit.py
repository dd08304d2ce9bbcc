import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from modelgate.core import audit
from modelgate.core.context import actor_context
from modelgate.core.models import AuditEvent


def _three_events(user=None):
    with actor_context(source="command", user=user):
        for i in range(3):
            audit.record(action="test.event", object_type="test.thing", object_id=str(i), changes={"n": {"before": i, "after": i + 1}})


def test_it_chains_events_and_verifies(ds_owner):
    _three_events(ds_owner)
    events = list(AuditEvent.objects.order_by("id"))
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    mine = [e for e in events if e.source == "command"]  # the fixture's role and team grants come first
    assert mine[0].actor_username == "dana" and len(mine) == 3
    assert audit.verify_chain().ok


def test_it_records_actor_request_id_and_ip_from_an_api_request(ds_owner):
    from tests.conftest import api_for

    client = api_for(ds_owner)
    response = client.post("/api/v1/tokens/", {"name": "x"}, format="json", HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="token.create", object_id=str(response.json()["id"]))
    assert (event.actor_username, event.source, event.request_id, event.client_ip) == ("dana", "api", "req-123", "10.1.2.3")
    assert event.token_id is not None


def _tamper(sql, params):
    """Edit the table behind the application's back, as an intruder with database access would
    (on PostgreSQL that intruder must first disable the append-only trigger)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_no_update_delete")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_no_update_delete")


def test_verify_audit_reports_a_raw_sql_edit(db):
    _three_events()
    middle = AuditEvent.objects.order_by("id")[1]
    _tamper("UPDATE core_auditevent SET action = 'test.forged' WHERE id = %s", [middle.id])

    result = audit.verify_chain()
    assert not result.ok and result.first_broken_id == middle.id
    with pytest.raises(CommandError, match=f"#{middle.id}"):
        call_command("verify_audit")


def test_verify_audit_reports_a_deleted_event(db):
    _three_events()
    first, second, third = AuditEvent.objects.order_by("id")
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [second.id])
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_id == third.id


@pytest.mark.postgres  # the append-only trigger
def test_postgres_trigger_refuses_update_and_delete(db):
    from django.db.utils import InternalError

    _three_events()
    event = AuditEvent.objects.first()
    for sql in ("UPDATE core_auditevent SET action = 'x' WHERE id = %s", "DELETE FROM core_auditevent WHERE id = %s"):
        with pytest.raises(InternalError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [event.id])
    assert audit.verify_chain().ok


def test_verify_audit_command_passes_on_an_intact_chain(db, capsys):
    _three_events()
    call_command("verify_audit")
    assert "3 events verified" in capsys.readouterr().out


def test_the_chain_hash_still_matches_non_ascii_content_read_back_from_the_database(ds_owner):
    with actor_context(source="command", user=ds_owner):
        recorded = audit.record(action="test.event", object_type="test.thing", object_id="1", object_repr="modèle ✓ «crédit»",
                                changes={"note": {"before": "", "after": "naïve → ok"}})
    stored = AuditEvent.objects.get(action="test.event")
    assert stored.hash == audit.compute_hash(stored, stored.prev_hash)  # as stored and read back
    assert recorded.hash == stored.hash  # written at once, in the caller's transaction
    assert audit.verify_chain().ok


@pytest.mark.postgres  # SQLite does not enforce varchar lengths
def test_an_over_long_value_is_refused_not_cut_to_fit(db):
    from django.db import DataError

    with pytest.raises(DataError), transaction.atomic():
        audit.record(action="x" * 65, object_type="test.thing")
    assert not AuditEvent.objects.filter(object_type="test.thing").exists()


@pytest.mark.postgres  # the pg_indexes catalog
def test_the_audit_table_carries_only_the_indexes_its_readers_use(db):
    # Every write appends an event, so each index here is paid on every write.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'core_auditevent'")
        definitions = [row[0] for row in cursor.fetchall()]
    pattern_ops = [d for d in definitions if "varchar_pattern_ops" in d]
    assert len(pattern_ops) == 1 and "(action varchar_pattern_ops)" in pattern_ops[0]  # the audit page's prefix filter
    # pkey, hash, created_at, actor_id, action (+ its pattern twin), (object_type, object_id),
    # actor_username, model_name (the auditor's filter), registered_model_id (a model's history).
    assert len(definitions) == 10, definitions
    assert any("(registered_model_id)" in d for d in definitions)
    with pytest.raises(IntegrityError), transaction.atomic():  # the hash stays unique
        if not AuditEvent.objects.exists():
            audit.record(action="test.event", object_type="test.thing")
        first = AuditEvent.objects.first()
        AuditEvent.objects.bulk_create([AuditEvent(action="copy", prev_hash=first.prev_hash, hash=first.hash)])

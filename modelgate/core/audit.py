"""The one audit writer: every state change goes through ``record``.

Events are hash-chained: ``hash = sha256(canonical(event) + prev_hash)``. The
chain head row is locked while appending, so concurrent transactions link in
one order; call ``record`` late in the transaction to keep the lock short.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router, transaction
from django.utils import timezone

from modelgate.core.context import current, current_actor
from modelgate.core.models import AuditChainHead, AuditEvent
from modelgate.core.prepared import Statement

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_username",
    "token_id",
    "source",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "team_slug",
    "model_name",
    "changes",
    "request_id",
    "client_ip",
)
# Hashed only when set, so every event written before the column existed (and every
# event about no model) keeps its canonical text and its hash.
HASHED_WHEN_SET = ("registered_model_id",)


def to_jsonable(value):
    """Dates, decimals and UUIDs become strings, so what is hashed is what is stored."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical(event: AuditEvent) -> str:
    """The event's hashed content as one JSON text (sorted keys, no spaces)."""
    content = {}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        if name == "created_at":
            value = value.astimezone(UTC).isoformat()
        content[name] = value
    for name in HASHED_WHEN_SET:
        if getattr(event, name) is not None:
            content[name] = getattr(event, name)
    return json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def compute_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256((canonical(event) + prev_hash).encode()).hexdigest()


def diff(before: dict, after: dict) -> dict:
    """Changed fields as {"field": {"before": x, "after": y}}."""
    out = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            out[key] = {"before": before.get(key), "after": after.get(key)}
    return to_jsonable(out)


def record(
    *,
    action: str,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    changes: dict | None = None,
    team_slug: str = "",
    model_name: str = "",
    registered_model_id: int | None = None,
    actor=None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    On PostgreSQL, inside a transaction, the append is usually deferred: it is sent
    with the transaction's next statement or with its COMMIT, saving a round trip
    per write (``DatabaseWrapper.defer``). It still runs inside the transaction, so
    the event commits or rolls back with the change it records; an error it raises
    fails the transaction at that point. The returned event then has no ``id`` or
    ``hash`` yet.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:255]
    ctx = current()
    user, token = current_actor()
    if actor is not None:
        user = actor
    now = timezone.now()
    event = AuditEvent(
        # Millisecond precision: JSON dumps (backup, export) keep milliseconds, so the hash survives a round trip.
        created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
        actor_id=user.pk if user is not None else None,
        actor_username=user.get_username() if user is not None else "",
        token_id=token.pk if token is not None else None,
        source=ctx.source,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:255],
        team_slug=team_slug,
        model_name=model_name,
        registered_model_id=registered_model_id,
        changes=to_jsonable(changes or {}),
        request_id=ctx.request_id,
        client_ip=ctx.client_ip,
    )
    # savepoint=False: callers write inside their own transaction, and an error here
    # must roll all of it back anyway; a savepoint would only add two round trips.
    with transaction.atomic(savepoint=False):
        connection = connections[router.db_for_write(AuditEvent)]
        if connection.vendor == "postgresql":
            _append_in_one_statement(connection, event)
        else:
            _append(event)
    return event


def _append(event: AuditEvent) -> None:
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
    event.prev_hash = head.last_hash
    event.hash = compute_hash(event, event.prev_hash)
    event.save(force_insert=True)
    head.last_hash = event.hash
    head.last_event_id = event.id
    head.save(update_fields=["last_hash", "last_event_id"])


# Columns written from the event object (prev_hash and hash come from the head row).
_WRITTEN = [AuditEvent._meta.get_field(name) for name in (*HASHED_FIELDS, *HASHED_WHEN_SET)]


@functools.cache
def _append_statement() -> Statement:
    """Lock the head, insert the event linked to it, move the head: one statement.

    The same chain as ``_append`` (``hash = sha256(canonical + prev_hash)``, the
    canonical text made here in Python), but one round trip instead of three, and
    the head lock (which every writing transaction queues on) is taken only where
    ``record`` is called: callers call it last. Values carry explicit casts because an
    ``INSERT … SELECT`` does not infer parameter types; text for strings, so an
    over-long value is refused by the column, not truncated by the cast.

    The head row always exists (``ensure_chain_head``). Were it deleted, the link
    would be NULL, which the NOT NULL columns refuse: the transaction fails rather
    than losing its event, even when nobody reads this statement's answer (deferred).
    """
    event_table, head_table = AuditEvent._meta.db_table, AuditChainHead._meta.db_table
    casts = ["text" if f.get_internal_type() == "CharField" else f.db_type(connections["default"]) for f in _WRITTEN]
    # Table and column names from the models' metadata; every value is a parameter.
    return Statement(
        f"WITH head AS (SELECT (SELECT last_hash FROM {head_table} WHERE id = 1 FOR UPDATE) AS last_hash), "  # noqa: S608
        f"appended AS (INSERT INTO {event_table} ({', '.join(f.column for f in _WRITTEN)}, prev_hash, hash) "
        f"SELECT {', '.join(f'%s::{cast}' for cast in casts)}, head.last_hash, "
        f"encode(sha256(convert_to(%s::text || head.last_hash, 'UTF8')), 'hex') FROM head "
        f"RETURNING id, prev_hash, hash) "
        f"UPDATE {head_table} SET last_hash = appended.hash, last_event_id = appended.id "
        f"FROM appended WHERE {head_table}.id = 1 RETURNING appended.id, appended.prev_hash, appended.hash"
    )


def _append_in_one_statement(connection, event: AuditEvent) -> None:
    params = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in _WRITTEN]
    params.append(canonical(event))
    if _append_statement().defer(connection, params):
        return  # sent with the transaction's next statement or its COMMIT (core/postgresql)
    event.id, event.prev_hash, event.hash = _append_statement().fetchall(connection, params)[0]
    event._state.adding, event._state.db = False, connection.alias


def ensure_chain_head(using: str = "default", apps=None, **kwargs) -> None:
    """The chain's head row, created once (migration core 0004) and again after a
    flush empties the table (post_migrate): appends lock it and never create it."""
    head_model = AuditChainHead
    if apps is not None:
        try:
            head_model = apps.get_model("core", "AuditChainHead")
        except LookupError:  # a partial migrate: core's tables are not made yet
            return
    head_model.objects.using(using).get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})


@dataclass
class ChainVerification:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 5000) -> ChainVerification:
    """Walk the chain in order; report the first event whose hash or link is wrong."""
    prev_hash = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.prev_hash != prev_hash:
                return ChainVerification(False, checked, event.id, "link to the previous event is broken (an event was removed or reordered)")
            if compute_hash(event, event.prev_hash) != event.hash:
                return ChainVerification(False, checked, event.id, "content does not match its hash (the event was edited)")
            prev_hash = event.hash
            checked += 1
            last_id = event.id
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != prev_hash:
        return ChainVerification(False, checked, head.last_event_id, "the newest events were removed (chain head does not match)")
    return ChainVerification(True, checked)

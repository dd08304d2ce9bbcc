"""The one audit writer: every state change goes through ``record``.

Events are hash-chained: ``hash = sha256(canonical(event) + prev_hash)``. The
chain head row is locked while appending, so concurrent transactions link in
one order; call ``record`` late in the transaction to keep the lock short.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from modelgate.core.context import current, current_actor
from modelgate.core.models import AuditChainHead, AuditEvent

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
    """Append one event to the chain, now, inside the caller's transaction.

    The event commits or rolls back with the change it records. The chain head row
    is locked (``select_for_update``) until the caller's transaction ends, so
    concurrent writers link their events in one order: call this last in a service.
    The returned event is saved, with its ``id``, ``prev_hash`` and ``hash``.
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
    # must roll all of it back anyway.
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
        event.prev_hash = head.last_hash
        event.hash = compute_hash(event, event.prev_hash)
        event.save(force_insert=True)
        head.last_hash = event.hash
        head.last_event_id = event.id
        head.save(update_fields=["last_hash", "last_event_id"])
    return event


def ensure_chain_head(using: str = "default", apps=None, **kwargs) -> None:
    """The chain's head row, created once (migration core 0004) and again after a
    flush empties the table (post_migrate), so appends find a row to lock."""
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

"""Read access worth knowing (downloads of artifacts, model cards, report files), recorded
outside the audit chain: one plain insert, no lock on the chain head, so a CI pulling
artifacts all day does not slow every write. Auditors read and export it."""

from __future__ import annotations

from modelgate.core.context import current, current_actor
from modelgate.core.models import AccessLog


def record(*, kind: str, obj, model=None, detail: dict | None = None, user=None) -> AccessLog:
    ctx = current()
    actor, token = current_actor()
    actor = user if user is not None and user.is_authenticated else actor
    return AccessLog.objects.create(
        actor_id=actor.pk if actor is not None else None,
        actor_username=actor.get_username() if actor is not None else "",
        token_id=token.pk if token is not None else None,
        source=ctx.source, kind=kind,
        object_type=obj._meta.label_lower, object_id=str(obj.pk), object_repr=str(obj)[:255],
        model_name=model.name if model is not None else "", registered_model_id=model.pk if model is not None else None,
        detail=detail or {}, request_id=ctx.request_id, client_ip=ctx.client_ip,
    )

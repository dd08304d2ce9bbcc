"""Who is acting, from where: set by middleware, task base and commands, read by the audit writer."""

from __future__ import annotations

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class ActorContext:
    source: str = "system"  # api, portal, admin, task, command, system
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client_ip: str | None = None
    request: object | None = None  # the Django HttpRequest, whose .user DRF fills in later
    user: object | None = None  # explicit actor for tasks and commands


_current: ContextVar[ActorContext | None] = ContextVar("modelgate_actor_context", default=None)


def current() -> ActorContext:
    return _current.get() or ActorContext()


@contextlib.contextmanager
def actor_context(**kwargs):
    token = _current.set(ActorContext(**kwargs))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current_actor():
    """The user (or None) and the API token (or None) acting now."""
    ctx = current()
    if ctx.request is not None:
        user = getattr(ctx.request, "user", None)
        auth = getattr(ctx.request, "auth", None)
        if user is not None and user.is_authenticated:
            from modelgate.core.models import ApiToken

            return user, auth if isinstance(auth, ApiToken) else None
        return None, None
    return ctx.user, None

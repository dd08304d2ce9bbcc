"""Shared reads: the audit trail as a user may see it.

Every read of audit events (model and version pages, request pages, the home feed,
the audit API, export and admin) starts from ``audit_events_for(user)``, so an event
is shown to exactly those who may see the object it concerns.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from modelgate.core.models import AuditEvent
from modelgate.core.permissions import EVERYTHING, restriction

# user -> ids of the registered models the user may see (a queryset of ``pk`` values).
# Filled by the registry in its AppConfig.ready(): plumbing imports no app.
_visible_model_ids: Callable[[object], QuerySet] | None = None


def register_audit_model_scope(visible_model_ids: Callable[[object], QuerySet]) -> None:
    """Say which registered models a user may see; their events are the ones they may read."""
    global _visible_model_ids
    _visible_model_ids = visible_model_ids


def audit_events_for(user) -> QuerySet[AuditEvent]:
    """The audit events ``user`` may read.

    Roles that read the whole trail (``core.view_auditevent``: auditors, admins) read
    every event. Everyone else reads the events about a registered model they may see
    now, matched by the model's id (``registered_model_id``): a renamed model keeps its
    history, a model created later under a deleted or renamed model's name starts with
    none, and a model that is deleted, unshared or another team's shows nothing.
    """
    if restriction(user, AuditEvent, "view") == EVERYTHING:
        return AuditEvent.objects.all()
    if _visible_model_ids is None or not user.is_authenticated:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(registered_model_id__in=_visible_model_ids(user))

"""Shared reads: the audit trail as a user may see it.

Every read of audit events (model and version pages, request pages, the home feed,
the audit API, export and admin) starts from ``audit_events_for(user)``, so an event
is shown to exactly those who may see the object it concerns.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Prefetch, Q, QuerySet

from modelgate.core import roles
from modelgate.core.models import AuditEvent, IdpMembership, Team
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


# --- people and teams (the People page, /api/v1/teams/, /api/v1/users/) ----------


def idp_managed_pairs(user_ids=None) -> set[tuple[int, int]]:
    """(user id, group id) of every membership the identity provider manages."""
    rows = IdpMembership.objects.all()
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    return set(rows.values_list("user_id", "group_id"))


def teams_with_members() -> QuerySet:
    """Every team with its members (one query for teams, one for members)."""
    members = get_user_model().objects.order_by("username")
    return (
        Team.objects.select_related("group")
        .annotate(member_count=Count("group__user"))
        .prefetch_related(Prefetch("group__user_set", queryset=members, to_attr="members"))
        .order_by("name")
    )


def users_with_access() -> QuerySet:
    """Every account with its groups (roles and teams' groups) prefetched and a
    ``team_count``, for lists that show each user's roles and teams without a query per row."""
    return (
        get_user_model().objects.annotate(team_count=Count("groups", filter=Q(groups__team__isnull=False), distinct=True))
        .prefetch_related(Prefetch("groups", queryset=Group.objects.select_related("team").order_by("name"), to_attr="all_groups"))
        .select_related("sso_identity")
        .order_by("username")
    )


def users_without_team() -> QuerySet:
    """Active accounts in no team and with no role that works across teams (auditor,
    approver, risk officer, administrator): they can neither see nor register models."""
    return (
        users_with_access()
        .filter(is_active=True, is_superuser=False, team_count=0)
        .exclude(groups__name__in=roles.SEE_ALL_TEAMS_ROLES)
    )


BREAK_GLASS_LOGIN = "auth.break_glass_login"


def break_glass_logins() -> QuerySet[AuditEvent]:
    """Password sign-ins while password login is off (BREAK_GLASS_USERS), newest first."""
    return AuditEvent.objects.filter(action=BREAK_GLASS_LOGIN).order_by("-id")

"""Role and team membership changes, audited wherever they are made — the portal's services,
the REST API, the Django admin's user form, a shell: all change ``user.groups``, and Django's
``m2m_changed`` signal (framework glue) is the one place that sees every such change.

Roles and teams are both auth groups: a role group is named after the role
(``roles.ROLES``), a team's group is ``Team.group``. Each added or removed membership
becomes one audit event in the chain, inside the transaction that made it:
``user.grant_role``/``user.revoke_role`` about the user, ``team.add_member``/``team.remove_member``
about the team, credited to whoever acts in the current context.
"""

from __future__ import annotations

import contextlib
import contextvars

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from modelgate.core import audit, roles

_BEFORE_CLEAR = "_modelgate_groups_before_clear"
_RAW = "_modelgate_loaded_raw"
_RECORDED_BY_CALLER = contextvars.ContextVar("membership_recorded_by_caller", default=False)


@contextlib.contextmanager
def recorded_by_caller():
    """The people services (modelgate/core/services.py) audit a membership change themselves,
    with its source (by hand or from the identity provider): inside this block the signal
    stands down, so each change is one audit event."""
    token = _RECORDED_BY_CALLER.set(True)
    try:
        yield
    finally:
        _RECORDED_BY_CALLER.reset(token)


def user_saved(sender, instance, raw=False, **kwargs):
    """``loaddata`` (a restore) saves each user raw, then sets its groups on the same object:
    mark it, so replaying stored memberships records no new change."""
    if raw:
        setattr(instance, _RAW, True)


def groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if getattr(instance, _RAW, False) or _RECORDED_BY_CALLER.get():
        return
    if action == "pre_clear":
        # clear() names no ids: remember what is about to go.
        ids = set(instance.groups.values_list("pk", flat=True)) if not reverse else set(instance.user_set.values_list("pk", flat=True))
        setattr(instance, _BEFORE_CLEAR, ids)
        return
    if action == "post_clear":
        pk_set, added = getattr(instance, _BEFORE_CLEAR, set()), False
    elif action in ("post_add", "post_remove"):
        added = action == "post_add"
    else:
        return
    if not pk_set:
        return
    User = get_user_model()
    if reverse:  # group.user_set.add(...): one group, many users
        pairs = [(user, instance) for user in User.objects.filter(pk__in=pk_set)]
    else:  # user.groups.add(...): one user, many groups
        pairs = [(instance, group) for group in Group.objects.filter(pk__in=pk_set).select_related("team")]
    for user, group in pairs:
        _record(user, group, added)


def _record(user, group, added: bool) -> None:
    username = user.get_username()
    team = getattr(group, "team", None)
    if team is not None:
        audit.record(action="team.add_member" if added else "team.remove_member", obj=team, team_slug=team.slug,
                     changes={"member": {"before": None, "after": username} if added else {"before": username, "after": None}})
    elif group.name in roles.ROLES:
        # The same action and shape as the people services' own events (role_grant/role_revoke).
        audit.record(action="user.grant_role" if added else "user.revoke_role", object_type="auth.user",
                     object_id=str(user.pk), object_repr=username,
                     changes={"roles": {"before": None, "after": group.name} if added else {"before": group.name, "after": None}})
    # Other groups carry no role and no team: nothing to audit.

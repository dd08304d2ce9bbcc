"""A user's role names and permission set, cached in Django's cache framework.

Every API request asks for both; computing them takes three queries (ModelBackend's user and
group permissions, the role names). One cache read answers instead: the entry of the user, checked
against a shared generation token. Any change that can alter an answer (a user's groups or direct
permissions, a group's permissions, a group renamed or deleted, a permission deleted, a migrate)
replaces the generation after the change commits, which invalidates every entry at once; such
changes are rare, a recompute is three queries. The user row itself is read per request, so its
``is_active``/``is_superuser`` are part of the entry's check rather than of the generation.
"""

import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "modelgate:authz:generation"
ENTRY_TIMEOUT = 600  # seconds; a bound on memory, correctness comes from the generation


@dataclass(frozen=True)
class UserAuthz:
    generation: str
    is_active: bool
    is_superuser: bool
    roles: frozenset[str]
    permissions: frozenset[str]


def _entry_key(user_pk) -> str:
    return f"modelgate:authz:user:{user_pk}"


def _new_generation() -> str:
    return uuid.uuid4().hex


def _replace_generation() -> None:
    cache.set(GENERATION_KEY, _new_generation(), None)


def invalidate_all(**kwargs) -> None:
    """Invalidate every cached entry now and again once the current transaction commits.

    Now, so this transaction's own next check sees its change; after commit too, because a
    request that read the old rows before the commit could otherwise have stored them under the
    generation set now. Usable as a signal receiver."""
    _replace_generation()
    transaction.on_commit(_replace_generation)


def user_authz(user, compute) -> UserAuthz:
    """The cached entry of ``user``, or ``compute(user) -> (roles, permissions)`` stored as one.

    Memoised on the user object for the rest of the request."""
    memo = getattr(user, "_modelgate_authz", None)
    if memo is not None:
        return memo
    key = _entry_key(user.pk)
    found = cache.get_many([key, GENERATION_KEY])
    generation = found.get(GENERATION_KEY)
    if generation is None:  # first use, or evicted: a fresh token invalidates every older entry
        cache.add(GENERATION_KEY, _new_generation(), None)
        generation = cache.get(GENERATION_KEY)
    entry = found.get(key)
    if not (
        isinstance(entry, UserAuthz)
        and entry.generation == generation
        and entry.is_active == user.is_active
        and entry.is_superuser == user.is_superuser
    ):
        # The generation was read before the rows: a change committed meanwhile replaces it,
        # so an entry computed from rows older than the change is never accepted.
        roles, permissions = compute(user)
        entry = UserAuthz(generation, user.is_active, user.is_superuser, frozenset(roles), frozenset(permissions))
        cache.set(key, entry, ENTRY_TIMEOUT)
    user._modelgate_authz = entry
    return entry


def _on_user_saved(created, **kwargs) -> None:
    if created:
        invalidate_all()


def connect_invalidation() -> None:
    """Connect the receivers that invalidate entries; called by the core app's ``ready()``."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

    user_model = get_user_model()

    def on_m2m(action, **kwargs):
        if action in ("post_add", "post_remove", "post_clear"):
            invalidate_all()

    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(on_m2m, sender=through, weak=False, dispatch_uid=f"core.authz.{through._meta.label}")
    post_save.connect(invalidate_all, sender=Group, dispatch_uid="core.authz.group_saved")
    # A new or deleted user: ids can be reused (SQLite after a rollback), an old entry must not apply.
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="core.authz.user_created")
    post_delete.connect(invalidate_all, sender=user_model, dispatch_uid="core.authz.user_deleted")
    post_delete.connect(invalidate_all, sender=Group, dispatch_uid="core.authz.group_deleted")
    post_delete.connect(invalidate_all, sender=Permission, dispatch_uid="core.authz.permission_deleted")
    post_migrate.connect(invalidate_all, dispatch_uid="core.authz.migrated")

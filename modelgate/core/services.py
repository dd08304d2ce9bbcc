"""Writes for core objects: teams, memberships, roles, users, API tokens.

People and teams are managed from the portal's People page, ``/api/v1/teams/`` and
``/api/v1/users/``, and the ``create_team``/``add_member``/``grant_role`` commands; all
of them call these functions, which check the rules themselves. ``actor`` is the user
asking (checked: administrators only); ``None`` is a trusted caller with shell access
to the server (management commands, the demo seed, sign-in sync).
"""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from modelgate.core import audit, memberships, roles
from modelgate.core.errors import ConflictError, PermissionDeniedError
from modelgate.core.models import ApiToken, IdpMembership, Team

USER_OBJECT_TYPE = "auth.user"


def can_manage_people(user) -> bool:
    """Administrators manage teams, memberships, roles and accounts."""
    return bool(user and user.is_authenticated and user.is_active and roles.has_role(user, roles.ADMIN))


def _check_actor(actor) -> None:
    if actor is not None and not can_manage_people(actor):
        raise PermissionDeniedError("Only administrators manage teams, members, roles and accounts.")


def _forget_memberships(user) -> None:
    """Drop the roles and permissions our cache memoised on this user object, so it answers
    with its new groups (Django's own per-object caches are cleared, as documented, by
    fetching the user again)."""
    user.__dict__.pop("_modelgate_authz", None)


def _idp_managed_refusal(user, what: str) -> ConflictError:
    return ConflictError(
        f"{user.get_username()}'s {what} comes from the identity provider: change the directory group, "
        "it takes effect at their next sign-in.",
        code="idp_managed",
    )


# --- teams -------------------------------------------------------------------


@transaction.atomic
def team_create(*, name: str, slug: str = "", description: str = "", actor=None) -> Team:
    _check_actor(actor)
    name = (name or "").strip()
    slug = slug or slugify(name)
    if not name or not slug:
        raise ValidationError({"name": ["A team needs a name (letters or digits) to derive its slug from."]})
    if Team.objects.filter(slug=slug).exists() or Group.objects.filter(name=f"team:{slug}").exists():
        raise ValidationError({"slug": [f"A team with the slug {slug!r} already exists."]})
    if Team.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"A team named {name!r} already exists."]})
    group = Group.objects.create(name=f"team:{slug}")
    team = Team(name=name, slug=slug, description=description, group=group)
    team.full_clean()
    team.save()
    audit.record(action="team.create", obj=team, team_slug=slug, changes={"name": {"before": None, "after": name}}, actor=actor)
    return team


@transaction.atomic
def team_rename(*, team: Team, name: str, actor=None) -> Team:
    """A new display name; the slug (what MLflow clients and the API name) stays."""
    _check_actor(actor)
    team = Team.objects.select_for_update().get(pk=team.pk)
    name = (name or "").strip()
    if name == team.name:
        return team
    if Team.objects.filter(name=name).exclude(pk=team.pk).exists():
        raise ValidationError({"name": [f"A team named {name!r} already exists."]})
    before = team.name
    team.name = name
    team.full_clean()
    team.save(update_fields=["name"])
    audit.record(action="team.rename", obj=team, team_slug=team.slug, changes={"name": {"before": before, "after": name}}, actor=actor)
    return team


@transaction.atomic
def team_add_member(*, team: Team, user, actor=None, idp_claim: str = "") -> None:
    """Add ``user`` to ``team``: by hand, or from the identity provider (``idp_claim``:
    the claim value that maps to the team) when sign-in sync calls it."""
    _check_actor(actor)
    if user.groups.filter(pk=team.group_id).exists():
        raise ConflictError(f"{user.get_username()} is already a member of {team.slug}.")
    with memberships.recorded_by_caller():
        user.groups.add(team.group)
    if idp_claim:
        IdpMembership.objects.create(user=user, group=team.group, claim_value=idp_claim)
    _forget_memberships(user)
    changes = {"member": {"before": None, "after": user.get_username()}}
    if idp_claim:
        changes["source"] = {"before": None, "after": f"identity provider ({idp_claim})"}
    audit.record(action="team.add_member", obj=team, team_slug=team.slug, changes=changes, actor=actor)


@transaction.atomic
def team_remove_member(*, team: Team, user, actor=None, idp_sync: bool = False) -> None:
    """Remove ``user`` from ``team``. A membership from the identity provider is removed
    only by sign-in sync (``idp_sync``); one granted by hand only by hand."""
    _check_actor(actor)
    if not user.groups.filter(pk=team.group_id).exists():
        raise ConflictError(f"{user.get_username()} is not a member of {team.slug}.")
    managed = IdpMembership.objects.filter(user=user, group=team.group)
    if managed.exists() != idp_sync:
        if idp_sync:
            raise ConflictError(f"{user.get_username()}'s membership of {team.slug} was granted by hand: sync keeps it.")
        raise _idp_managed_refusal(user, f"membership of {team.slug}")
    managed.delete()
    with memberships.recorded_by_caller():
        user.groups.remove(team.group)
    _forget_memberships(user)
    changes = {"member": {"before": user.get_username(), "after": None}}
    if idp_sync:
        changes["source"] = {"before": "identity provider", "after": None}
    audit.record(action="team.remove_member", obj=team, team_slug=team.slug, changes=changes, actor=actor)


# --- roles and accounts -------------------------------------------------------


def _role_group(role: str) -> Group:
    if role not in roles.ROLES:
        raise ValidationError({"role": [f"Unknown role {role!r}; one of: {', '.join(roles.ROLES)}."]})
    return Group.objects.get_or_create(name=role)[0]


def _user_obj(user) -> dict:
    return {"object_type": USER_OBJECT_TYPE, "object_id": str(user.pk), "object_repr": user.get_username()}


@transaction.atomic
def role_grant(*, user, role: str, actor=None, idp_claim: str = "") -> None:
    _check_actor(actor)
    group = _role_group(role)
    if user.groups.filter(pk=group.pk).exists():
        raise ConflictError(f"{user.get_username()} already holds the role {role}.")
    with memberships.recorded_by_caller():
        user.groups.add(group)
    if idp_claim:
        IdpMembership.objects.create(user=user, group=group, claim_value=idp_claim)
    _forget_memberships(user)
    changes = {"roles": {"before": None, "after": role}}
    if idp_claim:
        changes["source"] = {"before": None, "after": f"identity provider ({idp_claim})"}
    audit.record(action="user.grant_role", changes=changes, actor=actor, **_user_obj(user))


@transaction.atomic
def role_revoke(*, user, role: str, actor=None, idp_sync: bool = False) -> None:
    _check_actor(actor)
    group = _role_group(role)
    if not user.groups.filter(pk=group.pk).exists():
        raise ConflictError(f"{user.get_username()} does not hold the role {role}.")
    managed = IdpMembership.objects.filter(user=user, group=group)
    if managed.exists() != idp_sync:
        if idp_sync:
            raise ConflictError(f"{user.get_username()}'s role {role} was granted by hand: sync keeps it.")
        raise _idp_managed_refusal(user, f"role {role}")
    if actor is not None and actor.pk == user.pk and role == roles.ADMIN and not user.is_superuser:
        raise ConflictError("You cannot take the administrator role from yourself; ask another administrator.")
    managed.delete()
    with memberships.recorded_by_caller():
        user.groups.remove(group)
    _forget_memberships(user)
    changes = {"roles": {"before": role, "after": None}}
    if idp_sync:
        changes["source"] = {"before": "identity provider", "after": None}
    audit.record(action="user.revoke_role", changes=changes, actor=actor, **_user_obj(user))


@transaction.atomic
def user_create(*, username: str, email: str = "", first_name: str = "", last_name: str = "", actor=None):
    """An account with no password: people sign in through the identity provider (or
    get a password from ``manage.py changepassword``); service accounts use API tokens."""
    _check_actor(actor)
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"A user named {username!r} already exists."]})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    audit.record(action="user.create", changes={"username": {"before": None, "after": username}}, actor=actor, **_user_obj(user))
    return user


@transaction.atomic
def user_set_active(*, user, active: bool, actor=None):
    """Deactivate (or reactivate) an account: a deactivated user's sessions, passwords and
    API tokens stop working at once (Django and the token check refuse inactive users)."""
    _check_actor(actor)
    User = get_user_model()
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active == active:
        raise ConflictError(f"{user.get_username()} is already {'active' if active else 'deactivated'}.")
    if not active and actor is not None and actor.pk == user.pk:
        raise ConflictError("You cannot deactivate your own account; ask another administrator.")
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record(
        action="user.activate" if active else "user.deactivate",
        changes={"is_active": {"before": not active, "after": active}}, actor=actor, **_user_obj(user),
    )
    return user


def user_teams(user):
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(group__user=user)


@transaction.atomic
def token_create(*, user, name: str, expires_at=None) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    raw = ApiToken.PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, key_prefix=raw[:10], key_hash=ApiToken.hash_key(raw), expires_at=expires_at)
    token.full_clean()
    token.save()
    audit.record(action="token.create", obj=token, changes={"user": {"before": None, "after": user.get_username()}})
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise ConflictError("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(action="token.revoke", obj=token, changes={"revoked_at": {"before": None, "after": token.revoked_at}})
    return token

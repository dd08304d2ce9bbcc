"""Writes for core objects: teams, memberships, API tokens."""

import secrets

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from modelgate.core import audit
from modelgate.core.errors import ConflictError
from modelgate.core.models import ApiToken, Team


@transaction.atomic
def team_create(*, name: str, slug: str = "", description: str = "") -> Team:
    slug = slug or slugify(name)
    group = Group.objects.create(name=f"team:{slug}")
    team = Team(name=name, slug=slug, description=description, group=group)
    team.full_clean()
    team.save()
    audit.record(action="team.create", obj=team, team_slug=slug, changes={"name": {"before": None, "after": name}})
    return team


@transaction.atomic
def team_add_member(*, team: Team, user) -> None:
    user.groups.add(team.group)  # audited as team.add_member by core.memberships, as in the admin


@transaction.atomic
def team_remove_member(*, team: Team, user) -> None:
    user.groups.remove(team.group)  # audited as team.remove_member by core.memberships


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

"""Shared by the people commands: find the named objects, turn service refusals into CommandError."""

import contextlib

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from modelgate.core.context import actor_context
from modelgate.core.errors import ApplicationError
from modelgate.core.models import Team


def user_named(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


def team_named(slug: str) -> Team:
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none yet: manage.py create_team"
        raise CommandError(f"No team with the slug {slug!r} (teams: {known}).")
    return team


@contextlib.contextmanager
def as_command():
    """Audited as source "command"; a refused change is a clear CommandError, not a traceback."""
    with actor_context(source="command", user=None):
        try:
            yield
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

"""The People page: teams, members, roles and accounts, for administrators.

Thin: every form posts to a small view that calls the same service the API and the
commands call (the service checks the rules again, so a POST by a non-administrator
is refused even though the page never showed them the button). Memberships the
identity provider manages are shown as such, with no button to change them.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from modelgate.core import roles, selectors, services
from modelgate.core.errors import ApplicationError
from modelgate.core.models import Team


def _require_admin(request) -> None:
    if not services.can_manage_people(request.user):
        raise PermissionDenied


@login_required
def people(request):
    _require_admin(request)
    managed = selectors.idp_managed_pairs()
    teams = list(selectors.teams_with_members())
    for team in teams:
        team.member_rows = [(user, (user.pk, team.group_id) in managed) for user in team.group.members]
    users = list(selectors.users_with_access())
    for user in users:
        user.role_rows = [(g.name, (user.pk, g.pk) in managed) for g in user.all_groups if g.name in roles.ROLES]
        user.team_rows = [(g.team, (user.pk, g.pk) in managed) for g in user.all_groups if getattr(g, "team", None)]
        user.missing_roles = [r for r in roles.ROLES if r not in {name for name, _ in user.role_rows}]
    context = {
        "teams": teams,
        "users": users,
        "without_team": list(selectors.users_without_team()),
        "break_glass": list(selectors.break_glass_logins()[:20]),
        "role_labels": roles.ROLE_LABELS,
    }
    return render(request, "core/people.html", context)


def _run(request, what: str, call) -> None:
    """Call a service; say what happened (or why not) on the page."""
    try:
        call()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, what)


def _user(pk):
    return get_object_or_404(get_user_model(), pk=pk)


@login_required
@require_POST
def team_create(request):
    _require_admin(request)
    name, slug = request.POST.get("name", ""), request.POST.get("slug", "")
    _run(request, f"Team {name} created.", lambda: services.team_create(name=name, slug=slug, actor=request.user))
    return redirect("people")


@login_required
@require_POST
def team_rename(request, pk):
    _require_admin(request)
    team, name = get_object_or_404(Team, pk=pk), request.POST.get("name", "")
    _run(request, f"Team renamed to {name}.", lambda: services.team_rename(team=team, name=name, actor=request.user))
    return redirect("people")


@login_required
@require_POST
def member_add(request, pk):
    _require_admin(request)
    team = get_object_or_404(Team, pk=pk)
    username = request.POST.get("username", "")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        messages.error(request, f"No user named {username!r}.")
        return redirect("people")
    _run(request, f"{username} added to {team.name}.", lambda: services.team_add_member(team=team, user=user, actor=request.user))
    return redirect("people")


@login_required
@require_POST
def member_remove(request, pk, user_pk):
    _require_admin(request)
    team, user = get_object_or_404(Team, pk=pk), _user(user_pk)
    _run(request, f"{user.get_username()} removed from {team.name}.",
         lambda: services.team_remove_member(team=team, user=user, actor=request.user))
    return redirect("people")


@login_required
@require_POST
def role_grant(request, user_pk):
    _require_admin(request)
    user, role = _user(user_pk), request.POST.get("role", "")
    _run(request, f"{user.get_username()} is now {roles.ROLE_LABELS.get(role, role)}.",
         lambda: services.role_grant(user=user, role=role, actor=request.user))
    return redirect("people")


@login_required
@require_POST
def role_revoke(request, user_pk, role):
    _require_admin(request)
    user = _user(user_pk)
    _run(request, f"{user.get_username()} is no longer {roles.ROLE_LABELS.get(role, role)}.",
         lambda: services.role_revoke(user=user, role=role, actor=request.user))
    return redirect("people")


@login_required
@require_POST
def user_active(request, user_pk):
    _require_admin(request)
    user, active = _user(user_pk), request.POST.get("active") == "true"
    _run(request, f"{user.get_username()} {'reactivated' if active else 'deactivated'}.",
         lambda: services.user_set_active(user=user, active=active, actor=request.user))
    return redirect("people")



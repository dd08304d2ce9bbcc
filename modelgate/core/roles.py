"""Roles are auth groups; each grants object-less permissions (which actions).
Teams decide which objects (guardian object permissions). The two are ANDed.

Apps add their permissions to ROLE_PERMISSIONS with ``grant()`` (their ``roles``
module, imported by their ``AppConfig.ready()``); ``sync_role_permissions`` runs
after every migrate and grants exactly what the table says (codenames that do
not exist yet, e.g. an app not installed, are ignored).
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from modelgate.core import authz_cache

DATA_SCIENTIST = "data_scientist"
ML_ENGINEER = "ml_engineer"
BUSINESS_APPROVER = "business_approver"
RISK_OFFICER = "risk_officer"
AUDITOR = "auditor"
ADMIN = "admin"
# The built-in roles. A higher app adds a role of its own with ``define_role()`` (its ``roles``
# module, imported first by its ``AppConfig.ready()``); the lists below grow in place.
ROLES: list[str] = [DATA_SCIENTIST, ML_ENGINEER, BUSINESS_APPROVER, RISK_OFFICER, AUDITOR, ADMIN]
ROLE_LABELS: dict[str, str] = {
    DATA_SCIENTIST: "Data scientist",
    ML_ENGINEER: "ML engineer",
    BUSINESS_APPROVER: "Business approver",
    RISK_OFFICER: "Risk officer",
    AUDITOR: "Auditor",
    ADMIN: "Administrator",
}
# Roles whose members see every team's objects (read), by explicit decision.
SEE_ALL_TEAMS_ROLES: list[str] = [AUDITOR, ADMIN, RISK_OFFICER, BUSINESS_APPROVER]

# "app_label.codename" per role. Each app extends this table for its own models.
_READ_CORE = ["core.view_team", "core.view_job"]
_OWN_TOKENS = ["core.view_apitoken", "core.add_apitoken", "core.change_apitoken"]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    DATA_SCIENTIST: [*_READ_CORE, *_OWN_TOKENS],
    ML_ENGINEER: [*_READ_CORE, *_OWN_TOKENS],
    BUSINESS_APPROVER: [*_READ_CORE],
    RISK_OFFICER: [*_READ_CORE],
    # axes: failed logins and lockouts (read only; admins unlock by deleting the row).
    AUDITOR: [*_READ_CORE, "core.view_auditevent", "core.view_apitoken", "axes.view_accessattempt"],
    ADMIN: ["*"],  # every permission
}


def define_role(role: str, label: str, *, sees_all_teams: bool = False, before: str = AUDITOR) -> str:
    """Add a role (an auth group synced after migrate) owned by a higher app; called by that app's
    ``roles`` module, which its ``AppConfig.ready()`` imports. Defining it again changes nothing."""
    if role not in ROLES:
        ROLES.insert(ROLES.index(before) if before in ROLES else len(ROLES), role)
    ROLE_LABELS[role] = label
    if sees_all_teams and role not in SEE_ALL_TEAMS_ROLES:
        SEE_ALL_TEAMS_ROLES.append(role)
    ROLE_PERMISSIONS.setdefault(role, [*_READ_CORE])
    return role


def grant(role: str, *perms: str) -> None:
    """Extend the table; called by an app's roles module, which its ``AppConfig.ready()`` imports."""
    ROLE_PERMISSIONS.setdefault(role, []).extend(perms)


def sync_role_permissions(sender=None, **kwargs):
    # Every installed app's grants are in the table: their ready() ran before any migrate signal.
    all_perms = {f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = ROLE_PERMISSIONS.get(role, [])
        if "*" in wanted:
            perms = list(all_perms.values())
        else:
            perms = [all_perms[name] for name in dict.fromkeys(wanted) if name in all_perms]
        group.permissions.set(perms)


def _compute_authz(user) -> tuple[set[str], set[str]]:
    role_names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    # ModelBackend's own answer (the user's and their groups' permissions), computed uncached.
    return role_names, ModelBackend().get_all_permissions(user)


def user_authz(user) -> authz_cache.UserAuthz:
    """Role names and object-less permissions of an authenticated user, from Django's cache."""
    return authz_cache.user_authz(user, _compute_authz)


def user_roles(user) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    return user_authz(user).roles


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles)) or (user.is_authenticated and user.is_superuser and ADMIN in roles)


def sees_all_teams(user) -> bool:
    return user.is_authenticated and (user.is_superuser or bool(user_roles(user) & set(SEE_ALL_TEAMS_ROLES)))


def is_read_only(user) -> bool:
    """Auditors read everything and write nothing (admins may hold other roles too)."""
    roles = user_roles(user)
    return AUDITOR in roles and not user.is_superuser and ADMIN not in roles

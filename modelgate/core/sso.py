"""Single sign-on rules: who an OpenID Connect sign-in is, and what the directory gives them.

``sso_sign_in`` is the service the OIDC callback calls once the provider's answer is
verified (modelgate.core.oidc). It finds the user by issuer and subject (never by
e-mail or username: a directory account cannot take over a local one), creates them on
first sign-in, and re-applies OIDC_ROLE_MAP and OIDC_TEAM_MAP to the groups claim:
memberships the directory gives are added and marked as such (IdpMembership), those it
no longer gives are removed, and memberships granted by hand are never touched. Each
change goes through the same audited services as the People page, with the claim named.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from modelgate.core import audit, roles, services
from modelgate.core.context import actor_context, current
from modelgate.core.models import IdpMembership, SsoIdentity, Team
from modelgate.core.selectors import BREAK_GLASS_LOGIN

logger = logging.getLogger(__name__)


def claim_groups(claims: dict) -> list[str]:
    """The directory groups in the claims (a list, or one string), as strings."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return sorted({str(item) for item in value if isinstance(item, str | int)})


def _unique_username(claims: dict) -> str:
    """From the username claim (or the e-mail's local part, or the subject); a name a
    local account already has gets a suffix rather than that account."""
    User = get_user_model()
    base = str(claims.get(settings.OIDC_USERNAME_CLAIM) or (claims.get("email") or "").split("@")[0] or claims["sub"])
    base = base[:140] or "user"
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-sso{'' if n == 2 else n - 1}"
    return candidate


def _profile(claims: dict) -> dict:
    return {
        "email": str(claims.get("email") or "")[:254],
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
    }


def _wanted_groups(groups: list[str]) -> dict[int, tuple[str, str, str]]:
    """{auth group id: (claim value, "role"|"team", role name or team slug)} the claims give."""
    wanted: dict[int, tuple[str, str, str]] = {}
    present = set(groups)
    for claim, role in settings.OIDC_ROLE_MAP:
        if claim not in present:
            continue
        if role not in roles.ROLES:
            logger.warning("OIDC_ROLE_MAP maps %r to %r, which is no role; ignored", claim, role)
            continue
        group = Group.objects.get_or_create(name=role)[0]
        wanted.setdefault(group.pk, (claim, "role", role))
    for claim, slug in settings.OIDC_TEAM_MAP:
        if claim not in present:
            continue
        team = Team.objects.filter(slug=slug).first()
        if team is None:  # a team named in the mapping starts to exist with its first member
            team = services.team_create(name=slug.replace("-", " ").title(), slug=slugify(slug))
        wanted.setdefault(team.group_id, (claim, "team", team.slug))
    return wanted


def sync_memberships(*, user, groups: list[str]) -> None:
    """Make the user's identity-provider memberships exactly what the claims give."""
    wanted = _wanted_groups(groups)
    managed = set(IdpMembership.objects.filter(user=user).values_list("group_id", flat=True))
    held = set(user.groups.values_list("pk", flat=True))
    for group_id, (claim, kind, name) in wanted.items():
        if group_id in managed or group_id in held:
            continue  # already from the directory, or granted by hand (and so left as manual)
        if kind == "role":
            services.role_grant(user=user, role=name, idp_claim=claim)
        else:
            services.team_add_member(team=Team.objects.get(slug=name), user=user, idp_claim=claim)
    for group_id in sorted(managed):
        if group_id in wanted:
            continue
        team = Team.objects.filter(group_id=group_id).first()
        if team is not None:
            services.team_remove_member(team=team, user=user, idp_sync=True)
        else:
            services.role_revoke(user=user, role=Group.objects.get(pk=group_id).name, idp_sync=True)


@transaction.atomic
def sso_sign_in(*, issuer: str, claims: dict):
    """The user the verified claims name, created on first sign-in, memberships synced.
    Audited with source "sso"; the caller logs in only an active user."""
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SuspiciousOperation("The identity provider's claims carry no subject ('sub').")
    ctx = current()
    with actor_context(source="sso", request_id=ctx.request_id, client_ip=ctx.client_ip):
        identity = SsoIdentity.objects.select_for_update().select_related("user").filter(issuer=issuer, subject=subject).first()
        User = get_user_model()
        if identity is None:
            user = User(username=_unique_username(claims), **_profile(claims))
            user.set_unusable_password()
            user.full_clean()
            user.save()
            identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            audit.record(action="user.create", object_type=services.USER_OBJECT_TYPE, object_id=str(user.pk),
                         object_repr=user.get_username(), changes={"sso_subject": {"before": None, "after": subject}})
        else:
            user = identity.user
            before = {name: getattr(user, name) for name in _profile(claims)}
            after = _profile(claims)
            if before != after:
                for name, value in after.items():
                    setattr(user, name, value)
                user.save(update_fields=list(after))
                audit.record(action="user.update", object_type=services.USER_OBJECT_TYPE, object_id=str(user.pk),
                             object_repr=user.get_username(), changes=audit.diff(before, after))
        if not user.is_active:
            return user  # deactivated here: the directory cannot bring them back
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
        groups = claim_groups(claims)
        sync_memberships(user=user, groups=groups)
        audit.record(action="auth.sso_login", object_type=services.USER_OBJECT_TYPE, object_id=str(user.pk),
                     object_repr=user.get_username(), actor=user,
                     changes={settings.OIDC_GROUPS_CLAIM: {"before": None, "after": groups}})
    return user


def break_glass_login_record(*, user) -> None:
    """A password sign-in while password login is off: audited, and flagged on the People page."""
    with transaction.atomic():
        audit.record(action=BREAK_GLASS_LOGIN, object_type=services.USER_OBJECT_TYPE, object_id=str(user.pk),
                     object_repr=user.get_username(), actor=user,
                     changes={"break_glass": {"before": None, "after": True}})
    logger.warning("break-glass password sign-in by %s (PASSWORD_LOGIN is off)", user.get_username())


def token_idle_cutoff():
    """SSO users who last signed in before this have their API tokens refused (None: no rule)."""
    if not settings.SSO_ENABLED or settings.SSO_TOKEN_MAX_IDLE_DAYS == 0:
        return None
    return timezone.now() - timedelta(days=settings.SSO_TOKEN_MAX_IDLE_DAYS)


def token_idle_problem(user_id: int) -> str:
    """Why this user's tokens are refused now under SSO_TOKEN_MAX_IDLE_DAYS ('' if they are not)."""
    cutoff = token_idle_cutoff()
    if cutoff is None:
        return ""
    last = SsoIdentity.objects.filter(user_id=user_id).values_list("last_login_at", flat=True).first()
    if last is None or last >= cutoff:
        return ""  # local accounts (services, break-glass) are managed by hand
    return (f"Your tokens are paused: you have not signed in through single sign-on for "
            f"{settings.SSO_TOKEN_MAX_IDLE_DAYS} days. Sign in to the portal once and they work again.")


def check_claim_maps(app_configs=None, **kwargs):
    """System check (``manage.py check``, start-up of runserver and migrate): every role
    named in OIDC_ROLE_MAP exists. Roles are known only once apps are loaded, so settings cannot check it."""
    from django.core.checks import Error

    return [
        Error(f"OIDC_ROLE_MAP maps {claim!r} to {role!r}, which is no role.", hint=f"Roles: {', '.join(roles.ROLES)}.",
              id="modelgate.E101")
        for claim, role in settings.OIDC_ROLE_MAP if role not in roles.ROLES
    ]

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connections
from django.db.models import CharField, OuterRef, Value
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from modelgate.core import roles
from modelgate.core.models import ApiToken
from modelgate.core.permissions import permission_names
from modelgate.core.prepared import attnames, instance, int_placeholder, prepared, str_placeholder

_TOKEN_FIELDS = attnames(ApiToken)
LOCKED_MESSAGE = (
    f"This account is locked for {settings.LOGIN_LOCKOUT_MINUTES} minutes after {settings.LOGIN_MAX_FAILURES} "
    "failed logins from your address; use an API token, or ask an administrator to unlock it."
)
_USER_FIELDS = attnames(get_user_model())


def _token_rows(key_hash: str, *, with_access: bool):
    rows = ApiToken.objects.filter(key_hash=key_hash, revoked_at__isnull=True)
    if with_access:
        rows = rows.annotate(**_access_arrays())
    return rows.values(*_TOKEN_FIELDS, *(f"user__{name}" for name in _USER_FIELDS), *(_ACCESS if with_access else ()))


_ACCESS = ("access_roles", "access_group_ids", "access_group_permission_ids", "access_user_permission_ids")


def _access_arrays() -> dict:
    """The token user's role names, group ids and permission ids, as arrays in the
    token's own row (PostgreSQL): what ``roles.user_roles``, ``user.has_perm`` and
    team-membership checks would each ask for in queries of their own. Ids, not names: the join to
    permissions and content types for their names cost more than the rest of the
    lookup, and an id's name never changes (``permissions.permission_names``)."""
    from django.contrib.postgres.expressions import ArraySubquery

    User = get_user_model()
    user = OuterRef("user_id")
    memberships = User.groups.through.objects.filter(user_id=user).values("group_id")
    # The same, one subquery deeper (inside the group permissions' subquery).
    memberships_within = User.groups.through.objects.filter(user_id=OuterRef(user)).values("group_id")
    return {
        "access_roles": ArraySubquery(Group.objects.filter(user=user, name__in=roles.ROLES).order_by().values("name")),
        "access_group_ids": ArraySubquery(memberships),
        "access_group_permission_ids": ArraySubquery(
            Group.permissions.through.objects.filter(group_id__in=memberships_within).values("permission_id")
        ),
        "access_user_permission_ids": ArraySubquery(
            User.user_permissions.through.objects.filter(user_id=user).values("permission_id")
        ),
    }


def _token_by_hash(key_hash: str):
    """The unrevoked token with this hash and its user, or None (every API request asks: prepared).

    On PostgreSQL the same row carries the user's roles and permissions, which
    fill the caches ``roles.user_roles`` and Django's ModelBackend keep on the
    user object (``_perm_cache``: user and group permissions, as ModelBackend
    computes it for an active user; inactive users are refused below anyway).
    """
    with_access = connections["default"].vendor == "postgresql"
    query = prepared(
        ("core", "token_by_hash", with_access),
        lambda key_hash: _token_rows(key_hash, with_access=with_access),
        key_hash=str_placeholder("key_hash"),
    )
    rows = query.run(key_hash=key_hash)
    if not rows:
        return None
    token = instance(ApiToken, rows[0])
    token.user = instance(get_user_model(), rows[0], prefix="user__")
    if with_access:
        row = rows[0]
        token.user._modelgate_roles = set(row["access_roles"])
        token.user._modelgate_group_ids = set(row["access_group_ids"])  # teams are groups: membership checks
        token.user._perm_cache = permission_names({*row["access_group_permission_ids"], *row["access_user_permission_ids"]})
    else:
        _prime_access(token.user)
    return token


def _prime_access(user) -> None:
    """Load the user's role names and permissions in one query instead of three.

    For a user the token lookup did not already bring them for (other databases,
    HTTP Basic with a password). ``restrict`` asks ``roles.user_roles`` (one query)
    and ``user.has_perm``, whose ModelBackend loads user and group permissions (two
    queries) into ``user._perm_cache``; one UNION fills both caches with the same
    answers. Superusers never reach the cache (``has_perm`` answers True first).
    """
    query = prepared(("core", "roles_and_permissions"), _roles_and_permissions, user_id=int_placeholder())
    found_roles, perms = set(), set()
    for kind, first, second in query.run(user_id=user.pk):
        if kind == "role":
            found_roles.add(first)
        else:
            perms.add(f"{first}.{second}")
    user._modelgate_roles = found_roles
    user._perm_cache = perms


def _roles_and_permissions(user_id):
    # order_by(): a UNION's parts carry no ORDER BY (Permission has a default ordering).
    role_rows = Group.objects.filter(user=user_id, name__in=roles.ROLES).order_by().values_list(
        Value("role", output_field=CharField()), "name", Value("", output_field=CharField())
    )
    # Group and user permissions as two inner-join branches, not one query with an OR
    # across LEFT JOINs: that form read every group's permissions on each request.
    group_perm_rows, user_perm_rows = (
        Permission.objects.filter(**{holder: user_id}).order_by().values_list(
            Value("perm", output_field=CharField()), "content_type__app_label", "codename"
        )
        for holder in ("group__user", "user")
    )
    return role_rows.union(group_perm_rows, user_perm_rows, all=True)


def authenticate_token(raw: str):
    """Return (user, token) for an active token, else raise AuthenticationFailed."""
    token = _token_by_hash(ApiToken.hash_key(raw))
    now = timezone.now()
    if token is None or (token.expires_at is not None and token.expires_at <= now) or not token.user.is_active:
        raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
    interval = timedelta(seconds=settings.API_TOKEN_TOUCH_INTERVAL_SECONDS)
    if token.last_used_at is None or now - token.last_used_at > interval:
        # Touch at most once a minute: a write per request would dominate read latency.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` (also what MLFLOW_TRACKING_TOKEN sends)."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from None
        return authenticate_token(raw)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BasicPasswordAuthentication(authentication.BasicAuthentication):
    """HTTP Basic with username + password or username + API token as the password
    (what MLFLOW_TRACKING_USERNAME/PASSWORD send)."""

    def authenticate_credentials(self, userid, password, request=None):
        if password.startswith(ApiToken.PREFIX):
            user, token = authenticate_token(password)
            if user.get_username() != userid:
                raise exceptions.AuthenticationFailed("Token does not belong to this user.")
            return user, token
        # django-axes (first authentication backend) refuses a locked-out username and
        # address and counts this attempt if it fails. It gets Django's request, never DRF's:
        # it logs form data on failures, and reading DRF's request.POST would parse the body.
        http_request = getattr(request, "_request", request)
        user = authenticate(request=http_request, username=userid, password=password)
        if getattr(http_request, "axes_locked_out", False):
            raise exceptions.Throttled(wait=settings.AXES_COOLOFF_TIME.total_seconds(), detail=LOCKED_MESSAGE)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        _prime_access(user)
        return user, None


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "modelgate.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


class BasicPasswordScheme(OpenApiAuthenticationExtension):
    target_class = "modelgate.api.authentication.BasicPasswordAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "Username and password, or username and an API token as the password (MLflow clients)."}

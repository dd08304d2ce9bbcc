from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from modelgate.core import login_throttle
from modelgate.core.models import ApiToken
from modelgate.core.prepared import prepared, str_placeholder

_TOKEN_FIELDS = [f.attname for f in ApiToken._meta.concrete_fields]
_USER_FIELDS = [f.attname for f in get_user_model()._meta.concrete_fields]


def _token_by_hash(key_hash: str):
    """The unrevoked token with this hash and its user, or None (every API request asks: prepared)."""
    query = prepared(
        ("core", "token_by_hash"),
        lambda key_hash: ApiToken.objects.filter(key_hash=key_hash, revoked_at__isnull=True).values(
            *_TOKEN_FIELDS, *(f"user__{name}" for name in _USER_FIELDS)
        ),
        key_hash=str_placeholder("key_hash"),
    )
    rows = query.run(key_hash=key_hash)
    if not rows:
        return None
    token = ApiToken.from_db("default", _TOKEN_FIELDS, [rows[0][name] for name in _TOKEN_FIELDS])
    token.user = get_user_model().from_db("default", _USER_FIELDS, [rows[0][f"user__{name}"] for name in _USER_FIELDS])
    return token


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
        if login_throttle.is_locked(userid, request.META.get("REMOTE_ADDR") if request else None):
            raise exceptions.Throttled(detail="Too many failed logins; try again later.")
        user = authenticate(request=request, username=userid, password=password)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
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

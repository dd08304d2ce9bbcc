from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from modelgate.core import sso
from modelgate.core.models import ApiToken

LOCKED_MESSAGE = (
    f"This account is locked for {settings.LOGIN_LOCKOUT_MINUTES} minutes after {settings.LOGIN_MAX_FAILURES} "
    "failed logins from your address; use an API token, or ask an administrator to unlock it."
)


def authenticate_token(raw: str):
    """Return (user, token) for an active token, else raise AuthenticationFailed."""
    token = (
        ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(raw), revoked_at__isnull=True).first()
    )
    now = timezone.now()
    if token is None or (token.expires_at is not None and token.expires_at <= now) or not token.user.is_active:
        raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
    if settings.SSO_ENABLED:  # one more query, only with single sign-on on
        idle = sso.token_idle_problem(token.user_id)
        if idle:
            raise exceptions.AuthenticationFailed(idle)
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
        if not settings.PASSWORD_LOGIN:
            # No break-glass here: it is for the portal when the identity provider is down.
            raise exceptions.AuthenticationFailed(
                "Password sign-in is turned off: send an API token as the password (or as a Bearer token)."
            )
        # django-axes (first authentication backend) refuses a locked-out username and
        # address and counts this attempt if it fails. It gets Django's request, never DRF's:
        # it logs form data on failures, and reading DRF's request.POST would parse the body.
        http_request = getattr(request, "_request", request)
        user = authenticate(request=http_request, username=userid, password=password)
        if getattr(http_request, "axes_locked_out", False):
            raise exceptions.Throttled(wait=settings.AXES_COOLOFF_TIME.total_seconds(), detail=LOCKED_MESSAGE)
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

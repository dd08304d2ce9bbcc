"""mozilla-django-oidc, configured from the provider's discovery document.

The library runs the code flow (state, nonce and PKCE kept in the session and checked
at the callback, the ID token's signature checked against the provider's keys). What
it leaves to its users, done here through its documented extension points
(``get_settings``, the backend's ``verify_token``/``get_or_create_user``/``get_user``):

- endpoints from ``OIDC_DISCOVERY_URL`` (fetched once per process and cached);
- the ID token's issuer and audience checked (the library checks only its signature and nonce);
- who the user is and what they may do: ``modelgate.core.sso.sso_sign_in``;
- a deactivated user's session ends (the library's ``get_user`` ignores ``is_active``);
- logout at the provider (``end_session_endpoint``) when it offers one.
"""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404
from django.shortcuts import resolve_url
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView, OIDCLogoutView

from modelgate.core import sso

_lock = threading.Lock()
_metadata: dict | None = None
# Library setting → discovery document field, used unless the setting is given explicitly.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def provider_metadata() -> dict:
    """The provider's discovery document (fetched on first use, then kept for the process)."""
    global _metadata
    with _lock:
        if _metadata is None:
            response = requests.get(settings.OIDC_DISCOVERY_URL, timeout=settings.OIDC_TIMEOUT)
            response.raise_for_status()
            document = response.json()
            if document.get("issuer", "").rstrip("/") != settings.OIDC_ISSUER:
                raise ImproperlyConfigured(
                    f"OIDC_ISSUER is {settings.OIDC_ISSUER!r} but the discovery document at {settings.OIDC_DISCOVERY_URL} "
                    f"names {document.get('issuer')!r}: set OIDC_ISSUER to the provider's issuer."
                )
            missing = [field for field in _DISCOVERED.values() if not document.get(field)]
            if missing:
                raise ImproperlyConfigured(f"The provider's discovery document has no {', '.join(missing)}.")
            _metadata = document
        return _metadata


def forget_provider_metadata() -> None:
    global _metadata
    with _lock:
        _metadata = None


def oidc_setting(attr, *default):
    if attr in _DISCOVERED and not hasattr(settings, attr):
        return provider_metadata()[_DISCOVERED[attr]]
    return import_from_settings(attr, *default)


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in a user from the provider's verified answer at the callback, and only there."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Endpoints are read when a sign-in needs them (discovery is a request to the
        # provider): Django builds backends for every password check and session lookup too.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self):  # noqa: N802 (the library's attribute names)
        return oidc_setting("OIDC_OP_TOKEN_ENDPOINT")

    @property
    def OIDC_OP_USER_ENDPOINT(self):  # noqa: N802
        return oidc_setting("OIDC_OP_USER_ENDPOINT")

    @property
    def OIDC_OP_JWKS_ENDPOINT(self):  # noqa: N802
        return oidc_setting("OIDC_OP_JWKS_ENDPOINT")

    def authenticate(self, request, **kwargs):
        if request is None or request.path != reverse("oidc_authentication_callback"):
            return None  # a password form or an API call that happens to carry ?code=&state=
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if kwargs.get("nonce") is None:
            return payload  # a signed userinfo answer, not an ID token
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER or settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was not issued by OIDC_ISSUER for OIDC_CLIENT_ID.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = {**self.get_userinfo(access_token, id_token, payload)}
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo answer is about another subject than the ID token.")
        # Claims the ID token carries but userinfo does not (some providers put groups only in one).
        for name, value in payload.items():
            claims.setdefault(name, value)
        return sso.sso_sign_in(issuer=settings.OIDC_ISSUER, claims=claims)

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


class _OnlyWithSso:
    def dispatch(self, request, *args, **kwargs):
        if not settings.SSO_ENABLED:
            raise Http404("Single sign-on is not configured (OIDC_ISSUER).")
        return super().dispatch(request, *args, **kwargs)


class AuthenticateView(_OnlyWithSso, OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        View.__init__(self, *args, **kwargs)  # endpoints are read in get(): no discovery while SSO is off

    @property
    def OIDC_OP_AUTH_ENDPOINT(self):  # noqa: N802 (the library's attribute name)
        return oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")

    @property
    def OIDC_RP_CLIENT_ID(self):  # noqa: N802
        return settings.OIDC_RP_CLIENT_ID


class CallbackView(_OnlyWithSso, OIDCAuthenticationCallbackView):
    get_settings = staticmethod(oidc_setting)


class LogoutView(OIDCLogoutView):
    """POST only (as Django's own logout); at the provider too when it offers it."""

    http_method_names = ["post"]
    get_settings = staticmethod(oidc_setting)


def provider_logout_url(request) -> str:
    """Where to send a user who logs out: the provider's end_session_endpoint for an SSO
    session (so the next sign-in asks the provider again), else the login page."""
    local = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    if not (settings.SSO_ENABLED and settings.OIDC_PROVIDER_LOGOUT and id_token):
        return local
    try:
        end_session = provider_metadata().get("end_session_endpoint")
    except (requests.RequestException, ImproperlyConfigured, ValueError):
        return local  # the provider is down: log out here at least
    if not end_session:
        return local
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": request.build_absolute_uri(local),
                       "client_id": settings.OIDC_RP_CLIENT_ID})
    return f"{end_session}?{query}"

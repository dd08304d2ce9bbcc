import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings

from modelgate.core.context import actor_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def client_address(meta) -> str | None:
    """The client's address: REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` proxies
    the X-Forwarded-For entry the outermost trusted proxy appended.

    Entries further left were written by the client and prove nothing; one that is
    not an IP address (or too few entries: a request that skipped a proxy) falls
    back to REMOTE_ADDR.
    """
    remote = meta.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return remote
    forwarded = [entry.strip() for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < hops:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-hops]))
    except ValueError:
        return remote


def request_client_address(request) -> str | None:
    """``client_address`` of a request: django-axes' AXES_CLIENT_IP_CALLABLE, so the login
    lockout counts failures against the client, never the proxy. The same answer before
    and after ``RequestContextMiddleware`` replaced REMOTE_ADDR with it."""
    return client_address(request.META)


class RequestContextMiddleware:
    """Opens the actor context for the request: request id, client IP, source.

    Behind trusted proxies the client's address replaces REMOTE_ADDR (as Werkzeug's
    ProxyFix does), so the audit trail and the login lockout see the client, not the proxy.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        address = client_address(request.META)
        if address is not None:
            request.META["REMOTE_ADDR"] = address
        kwargs = {"request": request, "client_ip": address}
        if _REQUEST_ID.match(supplied):
            kwargs["request_id"] = supplied
        path = request.path
        if path.startswith("/api/"):
            kwargs["source"] = "api"
        elif path.startswith("/admin/"):
            kwargs["source"] = "admin"
        else:
            kwargs["source"] = "portal"
        with actor_context(**kwargs) as ctx:
            response = self.get_response(request)
            response["X-Request-ID"] = ctx.request_id
            return response


class ContentSecurityPolicyMiddleware:
    """A strict CSP: scripts only from our own origin, never inline."""

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = self.POLICY
        if settings.SSO_ENABLED:
            # Logging out is a form post answered with a redirect to the provider's
            # end_session_endpoint; browsers hold redirects after a form post to form-action.
            issuer = urlsplit(settings.OIDC_ISSUER)
            self.policy = self.POLICY.replace("form-action 'self'", f"form-action 'self' {issuer.scheme}://{issuer.netloc}")

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        return response

import re

from modelgate.core.context import actor_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Opens the actor context for the request: request id, client IP, source."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        kwargs = {"request": request, "client_ip": request.META.get("REMOTE_ADDR") or None}
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

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.POLICY)
        return response

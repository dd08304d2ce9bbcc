"""The WSGI entry point's routing: token-only API paths run a shorter middleware chain.

The MLflow REST API is called by CI machines with a bearer token or HTTP Basic
credentials, never with a browser session. Sessions, CSRF, the session-based
user, flash messages, htmx and static-file lookup are browser concerns, and on
that path they were ~12 % of the Python CPU of a registry write (in-process A/B,
2026-11-23). Requests under ``settings.TOKEN_ONLY_PATH_PREFIXES`` therefore go
through ``settings.TOKEN_ONLY_MIDDLEWARE``: the same security headers, host
validation, request id and audit context, in the same order, and nothing else.
Every other request goes through the full ``settings.MIDDLEWARE``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string


class MiddlewareSubsetMixin:
    """For a synchronous Django handler class: build the middleware chain from
    ``self.middleware``, which must be a subset of ``settings.MIDDLEWARE`` in the
    same order (so nothing can run here that the rest of the site does not run, nor
    in another order), and synchronous. Tests mix it into the test client's handler.

    The loop is BaseHandler.load_middleware's for synchronous middleware, over our
    list instead of settings.MIDDLEWARE: swapping the global setting while Django's
    loop ran would be visible to any other thread reading it meanwhile."""

    middleware: list[str] = []

    def load_middleware(self, is_async=False):
        if is_async:
            raise ImproperlyConfigured("A middleware subset handler is synchronous (WSGI).")
        full = list(settings.MIDDLEWARE)
        positions = [full.index(path) if path in full else -1 for path in self.middleware]
        if -1 in positions or positions != sorted(positions):
            raise ImproperlyConfigured("TOKEN_ONLY_MIDDLEWARE must be a subset of MIDDLEWARE, in the same order.")
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(self.middleware):
            factory = import_string(path)
            if not getattr(factory, "sync_capable", True):
                raise ImproperlyConfigured(f"{path} is not synchronous; it cannot run in a WSGI middleware subset.")
            try:
                instance = factory(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class MiddlewareSubsetHandler(MiddlewareSubsetMixin, WSGIHandler):
    def __init__(self, middleware: list[str]):
        self.middleware = list(middleware)
        super().__init__()


class TokenOnlyPathDispatch:
    """WSGI application: token-only API paths to a ``MiddlewareSubsetHandler``, the rest to ``default``."""

    def __init__(self, default):
        self.default = default
        self.prefixes = tuple(settings.TOKEN_ONLY_PATH_PREFIXES)
        self.token_only = MiddlewareSubsetHandler(settings.TOKEN_ONLY_MIDDLEWARE)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.prefixes):
            return self.token_only(environ, start_response)
        return self.default(environ, start_response)

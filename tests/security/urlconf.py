"""Walk the whole URL conf: every named route, the HTTP methods it serves, and a URL for it
in the shared world (``tests.security.world``)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.world import ALIAS, ARTIFACT_PATH, MODEL

SKIPPED_METHODS = {"head", "options", "trace"}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "v1:registeredmodel-detail"
    regex: str
    kwargs: tuple[str, ...]
    methods: tuple[str, ...] | None  # None: a function view, methods come from the policy table
    kind: str  # api / mlflow / portal / admin / public


def _walk(patterns, prefix="", namespace="", kwargs=()):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}{p.namespace}:"
            # An included list (e.g. routes other apps add under a version) carries the prefix's kwargs.
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns, kwargs + tuple(p.pattern.regex.groupindex))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), namespace, p, kwargs + tuple(p.pattern.regex.groupindex)


def _methods(callback) -> tuple[str, ...] | None:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route
        return tuple(sorted(m.upper() for m in actions if m not in SKIPPED_METHODS))
    cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if cls is not None:
        names = [m for m in cls.http_method_names if m not in SKIPPED_METHODS and hasattr(cls, m)]
        return tuple(sorted(m.upper() for m in names))
    try:  # MLflow endpoints close over their method → handler table
        handlers = inspect.getclosurevars(inspect.unwrap(callback)).nonlocals.get("handlers")
    except TypeError:
        handlers = None
    if isinstance(handlers, dict):
        return tuple(sorted(handlers))
    return None


def _kind(path: str, namespace: str) -> str:
    if path.startswith("api/v1/"):
        return "api"
    if path.startswith("api/2.0/mlflow/"):
        return "mlflow"
    if namespace.startswith("admin"):
        return "admin"
    if path.startswith(("healthz", "readyz", "accounts/", "api/schema", "api/docs")):
        return "public"
    return "portal"


def routes() -> list[Route]:
    out = []
    for path, namespace, pattern, kwargs in _walk(get_resolver().url_patterns):
        if not pattern.name:
            continue
        # DRF format-suffix duplicates (``.json``) share their route's view and policy.
        if "(?P<format>" in path or "<drf_format_suffix" in path:
            continue
        # Django admin internals: only the admin index is in the table (every admin view
        # sits behind the same admin_view wrapper, tested through the index).
        if namespace.startswith("admin") and pattern.name != "index":
            continue
        out.append(Route(f"{namespace}{pattern.name}", path, kwargs, _methods(pattern.callback), _kind(path, namespace)))
    return out


# url kwarg → which world object it names, chosen by the route's base name.
_PK_OBJECT = {
    "job": "job", "token": "token", "dataset": "dataset", "datasetversion": "datasetversion", "trainingrun": "trainingrun",
    "promotionrequest": "promotionrequest", "deployment": "deployment", "versionlifecycle": "versionlifecycle",
    "citestresult": "citestresult", "webhook": "webhook", "webhookdelivery": "webhookdelivery",
    "webhookallowedaddress": "webhookallowedaddress", "auditevent": "auditevent", "evaluationdataset": "evaluationdataset",
    "report": "report", "slarule": "slarule", "telemetry-alert": "alert", "datatest": "datatest",
    "version-search": "version", "telemetry-dashboard": "deployment", "telemetry-canary": "deployment",
    # portal routes
    "governance:request": "promotionrequest", "governance:version": "version", "governance:deployment": "deployment",
    "monitoring:report": "report", "telemetry:dashboard": "deployment", "telemetry:canary": "deployment",
    "telemetry:alert": "alert", "registry:report": "report", "people-": "team",
    "validation": "validation", "finding": "finding", "modeldocument": "modeldocument",
    "governance:validation": "validation", "governance:finding": "finding", "governance:document": "modeldocument",
}
# Portal routes with an <action>: the one each is tested with (the default, "cancel", is a request's).
ROUTE_ACTIONS = {"governance:model-risk-action": "describe", "governance:validation-action": "checklist",
                 "governance:finding-action": "remediate"}


def _object_for_pk(route_name: str, world) -> object:
    bare = route_name.split(":", 1)[1] if route_name.startswith("v1:") else route_name
    for prefix in sorted(_PK_OBJECT, key=len, reverse=True):
        if bare.startswith(prefix):
            return world.objects[_PK_OBJECT[prefix]]
    raise KeyError(f"no world object for the pk of {route_name}; add it to _PK_OBJECT")


def url_for(route: Route, world, **overrides: str) -> str:
    """A URL of ``route`` naming the world's objects; ``overrides`` replace url kwargs' values."""
    values = {}
    for kwarg in route.kwargs:
        if kwarg in overrides:
            values[kwarg] = overrides[kwarg]
        elif kwarg == "name":
            values[kwarg] = MODEL
        elif kwarg == "version":
            values[kwarg] = str(world["version"].version)
        elif kwarg == "path":
            values[kwarg] = ARTIFACT_PATH
        elif kwarg == "alias":
            values[kwarg] = ALIAS
        elif kwarg == "slug" and route.name.startswith("v1:team-"):
            values[kwarg] = world["team"].slug
        elif kwarg == "slug":
            values[kwarg] = world["environment"].slug
        elif kwarg in ("username", "user_pk"):
            values[kwarg] = world["user"].get_username() if kwarg == "username" else str(world["user"].pk)
        elif kwarg == "role":
            values[kwarg] = "data_scientist"
        elif kwarg == "file_format":
            values[kwarg] = "html"
        elif kwarg == "log":
            values[kwarg] = "downloads"
        elif kwarg == "version_id":
            values[kwarg] = str(world["version"].pk)
        elif kwarg == "job_id":
            values[kwarg] = str(world["job"].pk)
        elif kwarg == "action":
            values[kwarg] = ROUTE_ACTIONS.get(route.name, "cancel")
        elif kwarg == "model":
            values[kwarg] = MODEL
        elif kwarg == "tier":
            values[kwarg] = "1"
        elif kwarg == "pk":
            values[kwarg] = str(_object_for_pk(route.name, world).pk)
        else:
            raise KeyError(f"no world value for url kwarg {kwarg!r} of {route.name}; add it to url_for")
    if not values:
        return reverse(route.name)
    # reverse() refuses the artifact path's slash inside a re_path group only when it does not match;
    # build by regex substitution so every route resolves the same way.
    try:
        return reverse(route.name, kwargs=values)
    except Exception:
        path = route.regex.lstrip("^").rstrip("$")
        for key, value in values.items():
            path = re.sub(rf"\(\?P<{key}>[^)]*\)(\{{[^}}]*\}})?", value, path)
        return "/" + path


def team_of_url(route: Route) -> bool:
    """Routes naming one object (a pk, a model name, …): outsiders must get 404, not 403."""
    return bool(route.kwargs)

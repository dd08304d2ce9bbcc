"""The registry's extension points: what higher apps add to its pages and its events.

The registry knows nothing of governance or monitoring. Each point below is a
small registry the higher app fills in its ``AppConfig.ready()``; the registry's
views and services walk it. Delete ``monitoring/`` or ``governance/`` and the
registry still renders every page, without their sections.

- ``VERSION_PANELS`` / ``MODEL_PANELS``: sections of the version and model pages
  (governance: environments and approvals; monitoring: reports).
- ``CATALOG_COLUMNS`` / ``CATALOG_FILTERS``: columns and filters of the model list
  (governance: the version serving in each environment, "deployed in").
- ``VERSION_HISTORY``: audit rows about other objects that belong in a version's
  history (governance: its promotion requests).
- ``VERSION_ROUTES``: portal routes under ``models/<name>/versions/<version>/``
  (monitoring: requesting reports and what-ifs from the version page).
- ``on_version_registered``: called inside the registration transaction, on every
  surface (governance: the ``version.registered`` webhook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from modelgate.core.extensions import ExtensionPoint

if TYPE_CHECKING:
    from registry.models import ModelVersion, RegisteredModel


@dataclass(frozen=True)
class Panel:
    """A page section: ``template`` rendered with the page's context plus ``context(obj, user)``;
    a context of None leaves the section out. ``position`` places it on the page ("top", "bottom")."""

    template: str
    context: Callable[..., dict | None]
    position: str = "bottom"


@dataclass(frozen=True)
class CatalogColumns:
    """Columns of the model list: ``load(model_ids)`` returns (headers, {model id: [one value
    per header, None for empty]}) for one page, in a fixed number of queries."""

    load: Callable[[list[int]], tuple[list[str], dict[int, list]]]


@dataclass(frozen=True)
class CatalogFilter:
    """A filter of the model list: the query parameter, its label, its choices [(value, label)],
    and ``apply(queryset, value)`` returning the filtered queryset."""

    param: str
    label: str
    choices: Callable[[], list[tuple[str, str]]]
    apply: Callable[[QuerySet, str], QuerySet]
    any_label: str = "Any"


VERSION_PANELS: ExtensionPoint[Panel] = ExtensionPoint("version page panels")
MODEL_PANELS: ExtensionPoint[Panel] = ExtensionPoint("model page panels")
CATALOG_COLUMNS: ExtensionPoint[CatalogColumns] = ExtensionPoint("catalog columns")
CATALOG_FILTERS: ExtensionPoint[CatalogFilter] = ExtensionPoint("catalog filters")
VERSION_HISTORY: ExtensionPoint[Callable[[ModelVersion], Q]] = ExtensionPoint("version history")
VERSION_ROUTES: ExtensionPoint[list] = ExtensionPoint("version page routes")
VERSION_REGISTERED: ExtensionPoint[Callable[[ModelVersion], None]] = ExtensionPoint("version registered hooks")


def register_version_panel(key: str, panel: Panel, *, order: int = 100) -> None:
    VERSION_PANELS.register(key, panel, order=order)


def register_model_panel(key: str, panel: Panel, *, order: int = 100) -> None:
    MODEL_PANELS.register(key, panel, order=order)


def register_catalog_columns(key: str, columns: CatalogColumns, *, order: int = 100) -> None:
    CATALOG_COLUMNS.register(key, columns, order=order)


def register_catalog_filter(key: str, catalog_filter: CatalogFilter, *, order: int = 100) -> None:
    CATALOG_FILTERS.register(key, catalog_filter, order=order)


def register_version_history(key: str, about: Callable[[ModelVersion], Q]) -> None:
    """``about(version)`` returns a ``Q`` on ``AuditEvent`` rows that belong in the version's history."""
    VERSION_HISTORY.register(key, about)


def register_version_routes(key: str, patterns: list) -> None:
    """URL patterns relative to ``models/<str:name>/versions/<id:version>/``, named in the registry namespace."""
    VERSION_ROUTES.register(key, patterns)


def on_version_registered(key: str, hook: Callable[[ModelVersion], None]) -> None:
    """``hook(version)`` runs inside the registration transaction: what it writes commits or rolls back with it."""
    VERSION_REGISTERED.register(key, hook)


def version_registered(version: ModelVersion) -> None:
    for hook in VERSION_REGISTERED:
        hook(version)


def version_history_filter(version: ModelVersion) -> Q:
    about = Q()
    for extra in VERSION_HISTORY:
        about |= extra(version)
    return about


def panels_for(point: ExtensionPoint[Panel], obj: RegisteredModel | ModelVersion, user) -> dict[str, list[tuple[Panel, dict]]]:
    """Each panel with its context, grouped by position; panels answering None are left out."""
    out: dict[str, list[tuple[Panel, dict]]] = {}
    for panel in point:
        context = panel.context(obj, user)
        if context is not None:
            out.setdefault(panel.position, []).append((panel, context))
    return out

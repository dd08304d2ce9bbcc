"""Portal views shared by every app: login, home, error pages, and the small
helpers every portal view uses (HTMX partial detection, pagination, rendering
the sections higher apps contribute through extension points)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from modelgate.core import roles
from modelgate.core.extensions import ExtensionPoint
from modelgate.core.selectors import audit_events_for
from modelgate.core.services import user_teams

PAGE_SIZE = 25


def htmx_partial(request) -> bool:
    """True when HTMX asks for a fragment (not a boosted full-page navigation)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def paginate(request, queryset, per_page: int = PAGE_SIZE) -> dict:
    """Context for ``partials/pagination.html``: the page and the query string to keep filters."""
    page_obj = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    encoded = params.urlencode()
    return {"page_obj": page_obj, "querystring_without_page": f"{encoded}&" if encoded else ""}


@dataclass(frozen=True)
class HomeWidget:
    """A section of the home page owned by a higher app: ``context(user)`` returns the
    template's context, or None to leave the section out for this user."""

    template: str
    context: Callable[[object], dict | None]


# Filled by the apps' AppConfig.ready() (governance: the approval inbox; telemetry: SLA alerts).
HOME_WIDGETS: ExtensionPoint[HomeWidget] = ExtensionPoint("home widgets")


def register_home_widget(key: str, widget: HomeWidget, *, order: int = 100) -> None:
    HOME_WIDGETS.register(key, widget, order=order)


@login_required
def home(request):
    context = {
        "roles": [roles.ROLE_LABELS[r] for r in sorted(roles.user_roles(request.user))],
        "teams": list(user_teams(request.user)),
        "widgets": render_widgets(request, HOME_WIDGETS, request.user),
    }
    context.update(_recent_activity(request.user))
    return render(request, "core/home.html", context)


def render_widgets(request, point, *args, base: dict | None = None) -> list[str]:
    """Render each contribution of ``point`` (objects with ``template`` and ``context(*args)``)
    to HTML, skipping those whose context is None; the page shows them in order."""
    html = []
    for widget in point:
        extra = widget.context(*args)
        if extra is None:
            continue
        html.append(mark_safe(render_to_string(widget.template, {**(base or {}), **extra}, request=request)))  # noqa: S308 (our own template's output)
    return html


def _recent_activity(user) -> dict:
    """The last events on the models I may see (my teams' and those shared with me;
    every model for roles that see all teams)."""
    events = audit_events_for(user).exclude(model_name="").order_by("-id")
    return {"activity": list(events[:15])}


def permission_denied(request, exception=None):
    return render(request, "errors/403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "errors/404.html", status=404)


def server_error(request):
    return HttpResponseServerError(render_to_string("errors/500.html"))

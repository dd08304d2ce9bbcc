"""Portal views shared by every app: login, home/inbox, error pages, and the
small helpers every portal view uses (HTMX partial detection, pagination)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string

from modelgate.core import roles
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


@login_required
def home(request):
    context = {
        "roles": [roles.ROLE_LABELS[r] for r in sorted(roles.user_roles(request.user))],
        "teams": list(user_teams(request.user)),
    }
    context.update(_recent_activity(request.user))
    context.update(_governance_inbox(request.user))
    context.update(_sla_alerts(request.user))
    return render(request, "core/home.html", context)


def _sla_alerts(user) -> dict:
    """Open SLA alerts on deployments I may see (my teams' models), when SLA monitoring is installed."""
    try:
        from monitoring.telemetry import selectors as telemetry_selectors
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("monitoring"):
            return {}
        raise
    alerts = telemetry_selectors.alerts_for(user).exclude(state="resolved").order_by("-opened_at", "-pk")[:10]
    return {"sla_alerts": list(alerts)}


def _governance_inbox(user) -> dict:
    """Requests waiting for my decision and my own open requests (when governance is installed)."""
    try:
        from governance import views as governance_views
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("governance"):
            return {}
        raise
    from governance import selectors as governance_selectors

    return {
        "has_governance": True,
        # Overdue reviews and stale approvals on models I may see (my teams' for practitioners).
        "alerts": governance_selectors.governance_alerts(user=user)[:10],
        "waiting": governance_views.waiting_for(user),
        "my_requests": governance_views.my_open_requests(user),
        "decided_by_me": governance_views.decided_by_me(user),
        "reviews_due": governance_views.reviews_due(user),
        "overrides_waiting": governance_views.overrides_waiting(user),
        "can_approve": user.has_perm("governance.approve_promotionrequest") and not roles.is_read_only(user),
    }


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

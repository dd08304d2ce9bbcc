"""Portal views shared by every app: login, home, error pages."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string

from modelgate.core import roles
from modelgate.core.services import user_teams


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    context = {
        "roles": [roles.ROLE_LABELS[r] for r in sorted(roles.user_roles(request.user))],
        "teams": list(user_teams(request.user)),
    }
    return render(request, "core/home.html", context)


def permission_denied(request, exception=None):
    return render(request, "errors/403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "errors/404.html", status=404)


def server_error(request):
    return HttpResponseServerError(render_to_string("errors/500.html"))

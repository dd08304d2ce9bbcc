from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


class LoginView(auth_views.LoginView):
    """Django's login (session key rotated on login, ``next`` restricted to our own
    host). Brute force is refused by django-axes, the first authentication backend."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a login refused for too many failures (AXES_LOCKOUT_CALLABLE).

    The REST and MLflow APIs have already answered 429 in their own format (the error
    envelope, MLflow's REQUEST_LIMIT_EXCEEDED): that answer stands. A login form (the
    portal's or the admin's) gets the login page saying the account is locked, and when
    it will open again, with 429.
    """
    if original_response is not None and original_response.status_code == 429:
        return original_response
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    context = {"form": AuthenticationForm(request), "locked": True, "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES, "next": next_url}
    return render(request, "registration/login.html", context, status=429)

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from modelgate.core.backends import password_login_allowed


class PasswordLoginForm(AuthenticationForm):
    """Django's form, saying plainly when password sign-in is off (PASSWORD_LOGIN=false)
    rather than "did not match"; the backend refuses it too (modelgate.core.backends)."""

    def clean(self):
        if not password_login_allowed(self.cleaned_data.get("username")):
            raise ValidationError(
                "Password sign-in is turned off here: sign in with single sign-on.", code="password_login_off"
            )
        return super().clean()


class LoginView(auth_views.LoginView):
    """Django's login (session key rotated on login, ``next`` restricted to our own
    host). Brute force is refused by django-axes, the first authentication backend.
    With single sign-on the page leads to the provider; with PASSWORD_LOGIN off the
    password form remains for BREAK_GLASS_USERS only."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    form_class = PasswordLoginForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | _sign_in_options(self.request)


def _sign_in_options(request) -> dict:
    return {
        "sso_enabled": settings.SSO_ENABLED,
        "sso_label": settings.OIDC_LOGIN_LABEL,
        "password_login": settings.PASSWORD_LOGIN,
        "sso_failed": request.GET.get("sso") == "failed",
    }


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
    context = {"form": AuthenticationForm(request), "locked": True, "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES, "next": next_url,
               **_sign_in_options(request)}
    return render(request, "registration/login.html", context, status=429)

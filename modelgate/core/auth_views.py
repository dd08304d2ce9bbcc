from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.template.loader import render_to_string

from modelgate.core import login_throttle


class LoginView(auth_views.LoginView):
    """Django's login (session key rotated on login, ``next`` restricted to our own
    host) plus brute-force throttling."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        if login_throttle.is_locked(username, request.META.get("REMOTE_ADDR")):
            body = render_to_string(
                "registration/login.html",
                {"form": self.get_form(), "locked": True, "next": self.get_redirect_url()},
                request=request,
            )
            return HttpResponse(body, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        login_throttle.clear(form.get_user().get_username())
        return super().form_valid(form)

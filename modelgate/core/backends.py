"""Password sign-in, as Django's ModelBackend, with PASSWORD_LOGIN and break-glass."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


def password_login_allowed(username: str | None) -> bool:
    """Passwords are accepted when PASSWORD_LOGIN is on, or for BREAK_GLASS_USERS."""
    return settings.PASSWORD_LOGIN or (username or "") in settings.BREAK_GLASS_USERS


class PasswordBackend(ModelBackend):
    """Every password check on the web (portal and admin login forms) goes through here,
    so turning PASSWORD_LOGIN off refuses them all; HTTP Basic on the APIs refuses
    passwords before asking (``modelgate.api.authentication``). A break-glass sign-in
    while password login is off is audited (``auth.break_glass_login``)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None  # not a password sign-in (the OIDC callback asks every backend too)
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not password_login_allowed(username):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not settings.PASSWORD_LOGIN:
            from modelgate.core import sso

            sso.break_glass_login_record(user=user)
        return user

    def get_all_permissions(self, user_obj, obj=None):
        """Object-less permissions from the per-user cache (``modelgate.core.authz_cache``)
        instead of ModelBackend's two queries per request."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        from modelgate.core import roles

        return roles.user_authz(user_obj).permissions

"""Settings of the test identity provider (``DJANGO_SETTINGS_MODULE=tests.idp.settings``).

Its own SQLite database (IDP_DATABASE) and cookie names, so it never touches
Modelgate's database or sessions even on the same host.
"""

import os

SECRET_KEY = os.environ.get("IDP_SECRET_KEY", "test-identity-provider-only")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oidc_provider",
    "tests.idp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.idp.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("IDP_DATABASE", "idp.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test accounts only
SESSION_COOKIE_NAME = "idp_session"
CSRF_COOKIE_NAME = "idp_csrftoken"
USE_TZ = True
LOGIN_URL = "/accounts/login/"
SITE_URL = os.environ.get("IDP_SITE_URL", "http://localhost:8243")
# The directory groups of a user (Django groups here) in a "groups" claim, for the "groups" scope.
OIDC_EXTRA_SCOPE_CLAIMS = "tests.idp.claims.GroupsClaims"
OIDC_USERINFO = "tests.idp.claims.userinfo"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}}, "root": {"handlers": ["console"], "level": "WARNING"}}

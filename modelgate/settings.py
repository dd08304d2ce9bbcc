"""Modelgate settings: everything comes from environment variables (see README)."""

import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from modelgate.env import env_bool, env_int, env_list, env_map, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MODELGATE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off Modelgate refuses to start without one: "
            "set SECRET_KEY to a long random string (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), "
            "or set DEBUG=true for local development."
        )
    # Development only: a random key per process is fine (sessions do not survive restarts).
    return "dev-insecure-" + secrets.token_urlsafe(40)


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
if "*" in ALLOWED_HOSTS:
    # Host-header attacks (password-reset poisoning, cache poisoning) start with a wildcard.
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the hosts explicitly; '*' is refused.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "axes",
    "modelgate.core",
    "registry",
    "governance.mlflow",  # MLflow-compatible REST subset (no models; own label for its job handlers)
    "governance",
    "monitoring",
    "monitoring.telemetry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "modelgate.core.middleware.RequestContextMiddleware",
    "modelgate.core.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a login refused for too many failures into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "modelgate.urls"
WSGI_APPLICATION = "modelgate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'modelgate.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
    # failing with "database is locked" half-way through a transaction.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test-modelgate.sqlite3")
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Keepalives: a peer gone silent is noticed by the kernel within ~1 min, not at the next query.
    _db.setdefault("OPTIONS", {}).update(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
# A reused connection (CONN_MAX_AGE) is checked before each request's first query.
_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
# Folder of the PostgreSQL client tools backup and restore run (pg_dump, pg_restore), e.g.
# /usr/lib/postgresql/16/bin; empty: found on PATH. Their major version must be at least the server's.
PG_BIN_DIR = env_str("PG_BIN_DIR", "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- broker, cache, Celery --------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None  # embedded default: tasks run in-process
# The queue every task goes to, from web and workers alike (a worker fanning a job out into
# chunks publishes them here too); workers consume it by default.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1900)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None  # the Job table is the source of truth for results
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish with the broker down must fail fast: the job stays queued in the
# database (the outbox) and the sweeper dispatches it when the broker is back.
# visibility_timeout (Redis): a message taken but never acknowledged (its worker node vanished)
# is handed out again after this many seconds; it must exceed the hard time limit, or a task
# still running would be delivered twice. The job sweeper acts sooner (JOB_STALE_RUNNING_SECONDS).
BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "core.sweep_jobs", "schedule": 60.0},
    "governance-sweep-webhooks": {"task": "governance.sweep_webhooks", "schedule": 60.0},
    "governance-periodic-review": {"task": "governance.periodic_review", "schedule": 24 * 3600.0},
    "reconcile-reports": {"task": "monitoring.reconcile_reports", "schedule": 60.0},
    # SLA monitoring: evaluation rolls up pending minutes first; the separate rollup keeps dashboards fresh.
    "telemetry-rollup": {"task": "telemetry.rollup", "schedule": 60.0},
    "telemetry-evaluate-rules": {"task": "telemetry.evaluate_rules", "schedule": 60.0},
    "telemetry-retention": {"task": "telemetry.retention", "schedule": 3600.0},
}
# --- the team's MLflow tracking server (optional) ---------------------------
# MLflow 3 clients register `models:/m-…` sources with a logged-model id and no run id;
# with these set, a worker job asks this server (with this service account, never the
# caller's credentials) which run produced the model and records it as lineage.
MLFLOW_TRACKING_SERVER_URL = (env_str("MLFLOW_TRACKING_SERVER_URL", "") or "").rstrip("/")
if MLFLOW_TRACKING_SERVER_URL and not MLFLOW_TRACKING_SERVER_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"MLFLOW_TRACKING_SERVER_URL must start with http:// or https:// (got {MLFLOW_TRACKING_SERVER_URL!r}).")
MLFLOW_TRACKING_SERVER_TOKEN = env_str("MLFLOW_TRACKING_SERVER_TOKEN", "")  # sent as a bearer token
MLFLOW_TRACKING_SERVER_USERNAME = env_str("MLFLOW_TRACKING_SERVER_USERNAME", "")  # or HTTP Basic (MLflow's basic-auth app)
MLFLOW_TRACKING_SERVER_PASSWORD = env_str("MLFLOW_TRACKING_SERVER_PASSWORD", "")
# Where people open a run, if not the URL above (which may be an address inside the cluster).
MLFLOW_TRACKING_SERVER_UI_URL = (env_str("MLFLOW_TRACKING_SERVER_UI_URL", "") or MLFLOW_TRACKING_SERVER_URL).rstrip("/")
MLFLOW_TRACKING_SERVER_TIMEOUT = env_int("MLFLOW_TRACKING_SERVER_TIMEOUT", 30)  # seconds per request
MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS = env_int("MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS", 8)  # then the job fails, saying why

JOB_DISPATCH_GRACE_SECONDS = env_int("JOB_DISPATCH_GRACE_SECONDS", 120)
JOB_STALE_RUNNING_SECONDS = env_int("JOB_STALE_RUNNING_SECONDS", CELERY_TASK_TIME_LIMIT + 120)
# A chunk of a fanned-out job whose worker died (child killed: redelivered at once; node lost:
# re-queued by the sweeper) is tried at most this many times before it fails its parent.
JOB_CHUNK_MAX_ATTEMPTS = env_int("JOB_CHUNK_MAX_ATTEMPTS", 3)
# A chunk running longer than this is taken for lost (its node vanished) and re-queued by the
# sweeper. Chunks are short: a few times the expected chunk time keeps a lost node's cost low;
# a chunk still alive past it only runs twice (its result counts once).
JOB_STALE_CHUNK_SECONDS = env_int("JOB_STALE_CHUNK_SECONDS", JOB_STALE_RUNNING_SECONDS)
JOB_RETRY_BACKOFF_SECONDS = env_int("JOB_RETRY_BACKOFF_SECONDS", 5)  # transient errors: 5, 10, 20 s

# --- monitoring reports (worker side) ---------------------------------------
# Pickle/joblib model files can run code when loaded: refused unless explicitly allowed,
# and even then only from artifacts whose stored SHA-256 matches the bytes re-read.
MODELGATE_ALLOW_PICKLE = env_bool("MODELGATE_ALLOW_PICKLE", False)
# Rows per chunk job of an explanation: chunks spread over every worker process (docs/operations.md).
REPORT_EXPLAIN_CHUNK_ROWS = env_int("REPORT_EXPLAIN_CHUNK_ROWS", 2000)
REPORT_WHATIF_WAIT_SECONDS = env_int("REPORT_WHATIF_WAIT_SECONDS", 20)

# --- SLA monitoring (telemetry) ---------------------------------------------
TELEMETRY_RAW_RETENTION_DAYS = env_int("TELEMETRY_RAW_RETENTION_DAYS", 7)  # raw events and labels
TELEMETRY_MINUTE_RETENTION_DAYS = env_int("TELEMETRY_MINUTE_RETENTION_DAYS", 14)  # hour buckets are kept
TELEMETRY_MAX_BODY_BYTES = env_int("TELEMETRY_MAX_BODY_BYTES", 32 * 1024 * 1024)  # one 10,000-event batch with features

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- artifact store ---------------------------------------------------------
ARTIFACT_STORE = env_str("ARTIFACT_STORE", str(VAR_DIR / "artifacts"))
ARTIFACT_MAX_BYTES = env_int("ARTIFACT_MAX_BYTES", 5 * 1024**3)
_artifact_url = urlparse(ARTIFACT_STORE)
if _artifact_url.scheme == "s3":
    ARTIFACT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _artifact_url.netloc,
            "location": _artifact_url.path.lstrip("/"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL"),
            "file_overwrite": False,
            "default_acl": None,
        },
    }
elif _artifact_url.scheme in ("", "file"):
    ARTIFACT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": _artifact_url.path if _artifact_url.scheme else ARTIFACT_STORE},
    }
else:
    raise ImproperlyConfigured("ARTIFACT_STORE must be a folder path or an s3://bucket/prefix URL.")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "artifacts": ARTIFACT_STORAGE,
    "staticfiles": {
        "BACKEND": "modelgate.core.staticstorage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- auth -------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out (username, client address) before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing passwords when PASSWORD_LOGIN is off (but for BREAK_GLASS_USERS);
    # object-less permissions come from Django's cache (modelgate.core.authz_cache).
    "modelgate.core.backends.PasswordBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
GUARDIAN_RAISE_403 = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Login lockout (django-axes): failures are rows in the database, so every web process
# and every surface (portal, admin, HTTP Basic on the REST and MLflow APIs) share one
# count. Locked per username *and* client address together: failures from one address
# never lock the account out from another (nobody can lock an administrator out from
# elsewhere). The address is the one the trusted-proxy logic finds (TRUSTED_PROXY_COUNT).
# A failure while locked restarts the cool-off; a successful login clears the count;
# admins unlock by deleting the row under Axes → Access attempts (or `manage.py axes_reset_username`).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 10)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
if LOGIN_MAX_FAILURES < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_MAX_FAILURES and LOGIN_LOCKOUT_MINUTES must be 1 or more.")
AXES_FAILURE_LIMIT = LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "modelgate.core.middleware.request_client_address"
AXES_LOCKOUT_CALLABLE = "modelgate.core.auth_views.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # no table of every login: successful sign-ins are audit events (auth.login)
# Failed sign-ins stay in axes' own table (auditors read and export it on /governance/access-log/), not in the
# audit chain: a brute-force run must not make every request queue on the chain head.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# --- single sign-on (OpenID Connect, mozilla-django-oidc; docs/security.md) ----
# On when OIDC_ISSUER is set. Endpoints come from the issuer's discovery document
# (OIDC_DISCOVERY_URL to name another); the code flow always uses PKCE, state and nonce.
OIDC_ISSUER = (env_str("OIDC_ISSUER", "") or "").rstrip("/")
SSO_ENABLED = bool(OIDC_ISSUER)
OIDC_DISCOVERY_URL = env_str("OIDC_DISCOVERY_URL", f"{OIDC_ISSUER}/.well-known/openid-configuration" if SSO_ENABLED else "")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
# Directory group (a value of OIDC_GROUPS_CLAIM) → role, and → team slug; re-applied at every sign-in.
OIDC_ROLE_MAP = env_map("OIDC_ROLE_MAP")
OIDC_TEAM_MAP = env_map("OIDC_TEAM_MAP")
OIDC_PROVIDER_LOGOUT = env_bool("OIDC_PROVIDER_LOGOUT", True)
OIDC_LOGIN_LABEL = env_str("OIDC_LOGIN_LABEL", "Sign in with your organisation account")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # sent back as id_token_hint when logging out at the provider
OIDC_CREATE_USER = True
OIDC_CALLBACK_CLASS = "modelgate.core.oidc.CallbackView"
OIDC_AUTHENTICATE_CLASS = "modelgate.core.oidc.AuthenticateView"
OIDC_OP_LOGOUT_URL_METHOD = "modelgate.core.oidc.provider_logout_url"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
# A token whose user (an SSO user) has not signed in for this many days stops working
# until they sign in again: directory changes reach tokens through sign-ins. 0: never.
SSO_TOKEN_MAX_IDLE_DAYS = env_int("SSO_TOKEN_MAX_IDLE_DAYS", 30)
# Off: no password sign-in on the portal, the admin or HTTP Basic (tokens only), except
# BREAK_GLASS_USERS on the web, each such sign-in audited and flagged.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
BREAK_GLASS_USERS = env_list("BREAK_GLASS_USERS", [])
if SSO_ENABLED:
    if not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
        raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too (from the provider's client registration).")
    if "openid" not in OIDC_RP_SCOPES.split():
        raise ImproperlyConfigured(f"OIDC_SCOPES must include 'openid' (got {OIDC_RP_SCOPES!r}).")
    AUTHENTICATION_BACKENDS.append("modelgate.core.oidc.OidcBackend")
if not PASSWORD_LOGIN and not SSO_ENABLED:
    raise ImproperlyConfigured("PASSWORD_LOGIN=false needs single sign-on (OIDC_ISSUER): otherwise nobody could sign in.")
if SSO_TOKEN_MAX_IDLE_DAYS < 0:
    raise ImproperlyConfigured("SSO_TOKEN_MAX_IDLE_DAYS must be 0 (never) or more.")
# How long a portal session lasts; people sign in again after it (through SSO: a directory change applies then).
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE_HOURS", 12) * 3600
if SESSION_COOKIE_AGE < 3600:
    raise ImproperlyConfigured("SESSION_MAX_AGE_HOURS must be 1 or more.")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- security headers (Django deployment checklist) -------------------------
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front append to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for):
# the client address for the audit trail and login throttling is the entry that many
# from the end. 0: REMOTE_ADDR, the right answer when clients connect directly.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS", [])

# --- i18n, static -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
WHITENOISE_USE_FINDERS = True

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "modelgate.api.authentication.BearerTokenAuthentication",
        "modelgate.api.authentication.BasicPasswordAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["modelgate.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "modelgate.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "modelgate.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["modelgate.api.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Modelgate API",
    "DESCRIPTION": "Model registry and governance: registry, promotions, deployments, reports, telemetry.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "PREPROCESSING_HOOKS": ["modelgate.api.schema.only_v1_endpoints"],
    # ``<id:pk>`` (modelgate/core/converters.py): an integer of at most 64 bits.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}},
    # Same field names with different choice sets across apps: name the enums explicitly.
    "ENUM_NAME_OVERRIDES": {
        "RequestStateEnum": "governance.choices.RequestState",
        "LifecycleStateEnum": "governance.choices.LifecycleState",
        "TestKindEnum": "governance.choices.TestKind",
        "RoleEnum": "modelgate.core.roles.ROLES",
        "ReportKindEnum": "monitoring.choices.ReportKind",
        "SlaRuleKindEnum": "monitoring.telemetry.choices.RuleKind",
        "DataTestKindEnum": "monitoring.telemetry.choices.DataTestKind",
        "AlertSeverityEnum": "monitoring.telemetry.choices.Severity",
        "DataTestSeverityEnum": "monitoring.telemetry.choices.TestSeverity",
        "FindingSeverityEnum": "governance.modelrisk.choices.Severity",
        "RiskTierEnum": "governance.modelrisk.choices.Tier",
        "ModelSourceEnum": "governance.modelrisk.choices.ModelSource",
        "MembershipSourceEnum": [("manual", "manual"), ("idp", "idp")],
    },
}
API_TOKEN_TOUCH_INTERVAL_SECONDS = 60

# --- mail, logging ----------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "modelgate@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes: lockouts and failures are warnings; every successful login would be an info line.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

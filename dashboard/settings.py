"""Settings come from the environment; unset values give the embedded default
(SQLite and a filesystem broker under ``var/``), so a laptop needs nothing but Python."""

import os
import secrets
from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

STATE_DIR = Path(env.str("DASHBOARD_STATE_DIR", default=str(BASE_DIR / "var")))
STATE_DIR.mkdir(parents=True, exist_ok=True)


def _generated_secret(name: str, factory) -> str:
    """A per-install secret kept in the state dir, so the embedded default is not
    protected by a key that is printed in our source code."""
    path = STATE_DIR / name
    if not path.exists():
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = env.str("SECRET_KEY", default="") or _generated_secret("secret_key", lambda: secrets.token_urlsafe(50))
# Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="") or _generated_secret(
    "field_encryption_key", _fernet_key
)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.VaryOnHtmxMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "dashboard.context_processors.roles",
                "dashboard.context_processors.capabilities",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{STATE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A worker, the beat and the web server share one file: wait for locks rather than fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file (not :memory:) so a Celery worker started by a test sees the test database;
    # one per test run, so runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(STATE_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "dashboard.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: Redis when configured, else kombu's filesystem transport under the state dir.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = STATE_DIR / "broker" / "queue"
    _processed = STATE_DIR / "broker" / "processed"
    _control = STATE_DIR / "broker" / "control"
    for _folder in (_queue, _processed, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "store_processed": False,
        "control_folder": str(_control),
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_DISPATCH_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-dispatch"
CELERY_TASK_ROUTES = {"dashboard.tasks.dispatch_due_syncs": {"queue": CELERY_DISPATCH_QUEUE}}
# Workers consume both queues unless started with -Q.
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(CELERY_DISPATCH_QUEUE))
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task
# unless this is set; set, it leaves them to dashboard/celery.py, which closes only a
# broken or old one (CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A sync mostly waits on its provider: a worker process holds many at once in threads
# (each with its own database connection, kept for CONN_MAX_AGE; see dashboard/celery.py).
# SQLite takes one writer at a time, so the embedded default keeps to a couple.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int(
    "CELERY_WORKER_CONCURRENCY", default=2 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 16
)
CELERY_BEAT_SCHEDULE_FILENAME = str(STATE_DIR / "celerybeat-schedule")
# How often beat looks for connections whose sync is due (each has its own interval);
# those falling due before the next look are sent with a countdown to their due time.
SYNC_DISPATCH_EVERY = env.float("SYNC_DISPATCH_EVERY", default=2.0)
# At most this many syncs are queued per look (the most overdue first); the rest wait
# for the next look, so one look stays one short indexed query whatever the backlog.
SYNC_DISPATCH_LIMIT = env.int("SYNC_DISPATCH_LIMIT", default=500)
# A sync holds its connection's lease this long unless it renews it (it does, while it
# talks to the provider); a killed worker's lease therefore frees itself soon.
SYNC_LOCK_TTL = env.int("SYNC_LOCK_TTL", default=45)
# Bounds of one sync: seconds, and requests to the provider. Reaching one ends the sync,
# keeping what it committed, and says so in the connection's health.
SYNC_TIME_LIMIT = env.float("SYNC_TIME_LIMIT", default=240.0)
SYNC_REQUEST_BUDGET = env.int("SYNC_REQUEST_BUDGET", default=5000)
# After syncs fail in a row (unreachable, rate limited, a bound hit) the next one waits
# longer, doubling up to this many seconds.
SYNC_BACKOFF_MAX_SECONDS = env.float("SYNC_BACKOFF_MAX_SECONDS", default=300.0)
# Worker slots that connections in trouble may hold at once; keep it below the workers'
# total concurrency so healthy connections always have a slot.
SYNC_TROUBLED_SLOTS = env.int("SYNC_TROUBLED_SLOTS", default=1)
# While a connection has running builds it syncs at least this often (seconds).
SYNC_ACTIVE_INTERVAL = env.float("SYNC_ACTIVE_INTERVAL", default=10.0)
# SyncRun rows kept per connection (quiet syncs keep none; totals live on the connection).
SYNC_RUNS_KEPT = env.int("SYNC_RUNS_KEPT", default=200)
# The audit log (the activity page) keeps this many days and at most this many entries;
# 0 keeps without limit. Older entries are deleted as new ones are written.
AUDIT_KEEP_DAYS = env.int("AUDIT_KEEP_DAYS", default=400)
AUDIT_KEEP_ROWS = env.int("AUDIT_KEEP_ROWS", default=100_000)
# A connection counts as stalled when no sync finished for this many of its intervals.
SYNC_STALLED_INTERVALS = env.int("SYNC_STALLED_INTERVALS", default=5)
# Deletions at the provider are believed only when they hold (see dashboard/evidence.py).
GONE_CONFIRM_SYNCS = env.int("GONE_CONFIRM_SYNCS", default=2)
GONE_CONFIRM_SECONDS = env.float("GONE_CONFIRM_SECONDS", default=120.0)
GONE_CONFIRM_MASS_SECONDS = env.float("GONE_CONFIRM_MASS_SECONDS", default=900.0)
# A build marked gone is looked at again a few times, in case the provider comes back.
GONE_RECHECK_SECONDS = env.float("GONE_RECHECK_SECONDS", default=600.0)
GONE_RECHECK_ATTEMPTS = env.int("GONE_RECHECK_ATTEMPTS", default=5)
# Finished builds read incompletely (jobs missing, unknown states), and items a listing
# could not read, are read again at every sync for this many attempts, then with back-off.
RECHECK_EAGER_ATTEMPTS = env.int("RECHECK_EAGER_ATTEMPTS", default=20)
RECHECK_BACKOFF_SECONDS = env.float("RECHECK_BACKOFF_SECONDS", default=60.0)
RECHECK_BACKOFF_MAX_SECONDS = env.float("RECHECK_BACKOFF_MAX_SECONDS", default=3600.0)
# Seconds one request to a provider may take during a sync.
PROVIDER_TIMEOUT = env.float("PROVIDER_TIMEOUT", default=15.0)
# Requests one sync keeps in flight at once to its provider, where items need one each
# (a build's jobs, a job's detail); within the same request budget and time limit.
PROVIDER_CONCURRENCY = env.int("PROVIDER_CONCURRENCY", default=4)
# What a page view may spend asking a provider: it never waits longer than this.
PAGE_PROVIDER_SECONDS = env.float("PAGE_PROVIDER_SECONDS", default=2.5)
PAGE_PROVIDER_REQUESTS = env.int("PAGE_PROVIDER_REQUESTS", default=10)
# A running job's log is fetched from the provider at most this often, however many watch it.
LOG_REFRESH_AFTER = env.float("LOG_REFRESH_AFTER", default=1.5)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "builds"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CI dashboard API",
    "DESCRIPTION": "Builds, jobs and logs from every connected CI provider, and the actions on them.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}},
}

# Feeds, badges and notifications (dashboard/feeds, dashboard/notify) ----------------------
# The dashboard's public address, for links in notifications (workers see no request).
DASHBOARD_URL = env.str("DASHBOARD_URL", default="http://127.0.0.1:8000")
# A failed send is retried after 30 s, 60 s, 120 s, ... (at most NOTIFY_RETRY_MAX apart).
NOTIFY_RETRY_BACKOFF = env.float("NOTIFY_RETRY_BACKOFF", default=30.0)
NOTIFY_RETRY_MAX = env.float("NOTIFY_RETRY_MAX", default=3600.0)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=8)
# A worker's claim on a delivery it is sending; one that dies frees it after this long.
NOTIFY_SEND_LEASE = env.int("NOTIFY_SEND_LEASE", default=120)
# Beat looks this often for deliveries due this long that no task holds (lost enqueue, dead worker).
NOTIFY_SWEEP_EVERY = env.float("NOTIFY_SWEEP_EVERY", default=60.0)
NOTIFY_STALLED_AFTER = env.int("NOTIFY_STALLED_AFTER", default=60)
# Events older than this are not sent (a first sync of an old connection replays nothing).
NOTIFY_MAX_EVENT_AGE_HOURS = env.float("NOTIFY_MAX_EVENT_AGE_HOURS", default=24.0)
NOTIFY_CLOCK_SLACK = 300  # seconds a provider's clock may run behind ours
# A schedule whose provider does not judge missed fires is missed when its next fire is this far past.
NOTIFY_SCHEDULE_GRACE = env.int("NOTIFY_SCHEDULE_GRACE", default=600)
# --- Pages: overview home, Content-Security-Policy, quiet expected 403s -------------------
LOGIN_REDIRECT_URL = "home"
# No inline script, style or event handler anywhere: static/app.js and static/app.css do
# it all, and htmx is configured (meta htmx-config in base.html) not to eval or inject styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
MIDDLEWARE.append("csp.middleware.CSPMiddleware")
LOGGING.setdefault("filters", {})["expected_403"] = {"()": "dashboard.logfilters.ExpectedPermissionDenied"}
LOGGING["loggers"]["django.request"] = {"filters": ["expected_403"]}

# --- Security (docs/security.md) -----------------------------------------------------------
# Secrets are masked in error reports and in the application log (dashboard/secrets.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "dashboard.secrets.SecretsExceptionReporterFilter"
LOGGING.setdefault("filters", {})["redact"] = {"()": "dashboard.secrets.RedactingFilter"}
LOGGING["handlers"]["console"]["filters"] = ["redact"]
# Where provider connections may go (providers/base/outbound.py). Link-local and metadata
# addresses are refused always; private ranges and loopback only when allowed here.
# Loopback is allowed with DEBUG; `manage.py demo` and the test suite allow it themselves.
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)
OUTBOUND_ALLOW_LOOPBACK = env.bool("OUTBOUND_ALLOW_LOOPBACK", default=DEBUG)

# Logins: django-axes locks a user name + client address out after LOGIN_FAILURE_LIMIT
# failures, for LOGIN_LOCKOUT_MINUTES (dashboard/login_guard.py).
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = ["dashboard.login_guard.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
# Proxies in front that append to X-Forwarded-For (the client address for lockouts and throttles).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_ENABLED = env.bool("LOGIN_LOCKOUT", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.login_guard.lockout_response"
AXES_CLIENT_IP_CALLABLE = "dashboard.login_guard.client_ip"
LOGGING["loggers"]["axes"] = {"level": "WARNING"}

# API: personal tokens (Authorization: Bearer), sessions; Basic auth only when asked for.
API_BASIC_AUTH = env.bool("API_BASIC_AUTH", default=False)
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "dashboard.api.auth.BearerTokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
    "dashboard.api.auth.LockoutBasicAuthentication",  # inert unless API_BASIC_AUTH
]
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["dashboard.api.auth.UserThrottle"]
REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = [
    "dashboard.api.auth.AnonymousThrottled",
    *REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"],
]
SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT or None
API_THROTTLE_RATES = {
    "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
    "user": env.str("API_THROTTLE_USER", default="1200/minute"),
}

# HTTPS and headers. Behind a TLS proxy set TRUST_X_FORWARDED_PROTO=true (the proxy must
# set X-Forwarded-Proto itself); the production set-up in docs/security.md turns on HSTS,
# the redirect and secure cookies.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Operations: API docs, static files, metrics, health, logs, traces (docs/operations.md) ---
# Swagger UI and Redoc come from our own static files, never a CDN.
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "dashboard.api.schema_hooks.document_errors",
            "dashboard.api.action_schema.expand_actions",
        ],
    }
)

# Static files: hashed names and pre-compressed copies (whitenoise) where collectstatic ran
# with STATIC_MANIFEST=true, as the Docker image does; the embedded default serves them as they are.
if env.bool("STATIC_MANIFEST", default=False):
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
    WHITENOISE_USE_FINDERS = False

# /healthz and /metrics (dashboard/ops): answered before host checks, logins and CSRF.
INSTALLED_APPS += ["django_prometheus", "dashboard.ops", "dashboard.telemetry"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "dashboard.ops.health.OpsEndpointsMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends.", 1
)
# A bearer token for /metrics; unset, only scrapes from this machine are answered.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Seconds since beat's last dispatch before /healthz calls it stale (0: six dispatch periods, at least 60).
HEALTHZ_BEAT_MAX_AGE = env.float("HEALTHZ_BEAT_MAX_AGE", default=0)
HEALTHZ_TIMEOUT = env.float("HEALTHZ_TIMEOUT", default=3.0)

# LOG_FORMAT=json: one JSON object per line, in the web process and the Celery processes alike.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
from dashboard.ops.logging import with_format  # noqa: E402 - settings are read top to bottom

LOGGING = with_format(LOGGING, LOG_FORMAT)
if LOG_FORMAT.strip().lower() == "json":
    CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep our handlers rather than Celery's plain ones

# OpenTelemetry traces of finished builds (dashboard/telemetry): off unless an endpoint is named.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="ci-dashboard")
OTEL_EXPORT_TIMEOUT = env.float("OTEL_EXPORT_TIMEOUT", default=10.0)

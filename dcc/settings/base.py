"""Settings shared by every environment, read from the environment.

With no variable set, the embedded defaults apply: SQLite in ``var/`` and
kombu's filesystem transport as the Celery broker, so ``make run`` works on a
bare machine. Production (``dcc.settings.production``) and CI set
``DATABASE_URL`` and ``REDIS_URL`` to PostgreSQL and Redis.

Every variable read here is listed in README.md "Configuration"; a test keeps
the two in step, and docker-compose.yml may only set variables read here.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env is a convenience for developers; production passes real variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only exists so that `make run` works without configuration;
# production settings refuse to start without SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "dcc.apps.DccAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "django_bootstrap5",
    "simple_history",
    "axes",
    "csp",
    # ours
    "dcc",
    "leads",
    "followups",
    "followups.campaigns",
    "telephony",
    "kpi",
    "desk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "dcc.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dcc.middleware.SessionIdleTimeoutMiddleware",
    # Every page needs a signed-in user unless marked @login_not_required.
    "dcc.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Records the acting user on history rows written during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Turns a login refused by django-axes (too many failures) into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dcc.urls"
WSGI_APPLICATION = "dcc.wsgi.application"
ASGI_APPLICATION = "dcc.asgi.application"

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
                "django.template.context_processors.i18n",
                "desk.context_processors.navigation",
            ],
        },
    },
]

# Content-Security-Policy (django-csp): every script and stylesheet is one of
# our own static files (vendored, no CDN), so nothing inline runs: no <script>
# blocks, no on* handlers, no style attributes. data: images are Bootstrap's
# SVG icons inside its CSS; media are the call recordings.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# ---------------------------------------------------------------- database
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # `make run` has three processes (web, worker, beat) writing one file.
    # WAL lets readers go on while one writes; every transaction takes the
    # write lock when it begins (IMMEDIATE), so two writers queue for it
    # instead of one failing on upgrading a read lock; a writer waits up to
    # 20 s for the lock (the busy timeout) before "database is locked".
    # WAL itself is switched on by dcc.sqlite for each new connection (with
    # retries: the switch can fail at once when processes start together).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # The KPI indexes cover extra columns on PostgreSQL (index-only scans at
    # volume); SQLite, the embedded default, keeps them as plain indexes.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

# ---------------------------------------------------------------- auth
AUTH_USER_MODEL = "dcc.User"
# django-axes first: it refuses a locked-out username+address before any
# password is checked; then Django's model backend, reading the user with
# their store and team (dcc/auth.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "dcc.auth.StaffBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Brute force (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, both the login page and the API token endpoint
# answer 429 until AXES_COOLOFF_MINUTES pass without another try. Every
# failure is kept (axes' AccessAttempt / AccessFailureLog, in the admin) and
# logged by dcc.auth.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dcc.auth.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# A session ends after SESSION_IDLE_MINUTES without a request: a request
# saves it again (at most every SESSION_TOUCH_INTERVAL seconds), pushing its
# expiry, cookie and database row, forward (dcc.middleware).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=120) * 60
SESSION_ENGINE = "dcc.sessions"
SESSION_TOUCH_INTERVAL = 5 * 60
# An API token unused for API_TOKEN_IDLE_DAYS is refused (401) and replaced at
# the next POST /api/v1/auth/token/; its last use is written at most once per
# API_TOKEN_TOUCH_INTERVAL (dcc.auth.ExpiringTokenAuthentication).
API_TOKEN_IDLE_TIMEOUT = timedelta(days=env.int("API_TOKEN_IDLE_DAYS", default=30))
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)

# ---------------------------------------------------------------- i18n
# Simplified Chinese first: the users are a Chinese dealership's DCC room.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Months and days are local (DESIGN §3): Asia/Shanghai, stored as UTC.
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

# KPI pages, exports and API calls: PostgreSQL cancels a report statement
# running longer than this (kpi.limits; 0: no limit) and the page says so.
KPI_STATEMENT_TIMEOUT = timedelta(seconds=env.int("KPI_STATEMENT_TIMEOUT", default=30))
# Memory a report query's sort or hash may use before spilling to disk (the
# grouped KPI queries at a group's volume); with JIT off (kpi.limits).
KPI_WORK_MEM = env.str("KPI_WORK_MEM", default="64MB")

# ---------------------------------------------------------------- files
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")
MEDIA_URL = "media/"
# Recordings live here (through Django's storage API); docker-compose mounts a volume.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Recordings: the largest file accepted, and how old a file in a watched
# folder must be before it is imported (the PBX may still be writing it).
TELEPHONY_RECORDING_MAX_BYTES = env.int("TELEPHONY_RECORDING_MAX_BYTES", default=200 * 1024 * 1024)
TELEPHONY_RECORDING_MIN_AGE = env.int("TELEPHONY_RECORDING_MIN_AGE", default=60)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    # Token first, so that an unauthenticated call answers 401 (API.md "Auth");
    # session auth (with CSRF) serves the browser.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dcc.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "dcc.api_base.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "iso-8601",
    "EXCEPTION_HANDLER": "dcc.api_base.exception_handler",
    # Anonymous callers reach only the token endpoint and the schema; the
    # token endpoint has its own, tighter rate (dcc.api.ObtainTokenView).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "auth-token": env.str("API_THROTTLE_TOKEN", default="20/min"),
        # Signed lead pushes, per sending address (leads.api_connectors).
        "lead-inbound": env.str("API_THROTTLE_INBOUND", default="600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DCC API",
    "DESCRIPTION": "Dealer call center: leads, follow-ups, telephony and KPIs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from our own static files: no CDN (see static/vendor/README.md).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a field "status" with choices of their own: each
    # set gets a name, so that the schema's enums do not collide.
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "leads.models.Status",
        "LeadImportStatusEnum": "leads.models.ImportStatus",
        "LeadConnectorKindEnum": "leads.models.ConnectorKind",
        "CallImportStatusEnum": "telephony.models.ImportStatus",
    },
    # Every operation's error answers (400, 401, 403, 404) in the schema too.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dcc.api_schema.document_errors",
    ],
}

# ---------------------------------------------------------------- Celery
# REDIS_URL is the one-variable way to point both broker and results at Redis;
# CELERY_BROKER_URL / CELERY_RESULT_BACKEND override each separately.
REDIS_URL = env.str("REDIS_URL", default="")
# The cache holds the API throttles' counters: shared by every process through
# Redis where there is one.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{VAR_DIR / 'celery' / 'results'}"
)
CELERY_BROKER_DIR = VAR_DIR / "celery" / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: one folder both in and out, so a worker on the same
    # machine consumes what the web process publishes.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers an unacknowledged message after the visibility timeout;
    # it must exceed the longest task and the longest countdown a task waits
    # for (an SMS retry, up to 1 h: followups.sms.RETRY_BACKOFF). Reminders
    # themselves wait in the outbox (send_after), not in the broker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Reliability: a task is acknowledged only once it has run, and a worker that
# dies mid-task puts it back on the queue. Tasks are therefore written to be
# idempotent (DESIGN §5).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TRACK_STARTED = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
# Every periodic task is declared here, in one place.
CELERY_BEAT_SCHEDULE = {
    "dcc.heartbeat": {"task": "dcc.tasks.heartbeat", "schedule": 60.0},
    "followups.sla_sweep": {"task": "followups.tasks.sla_sweep", "schedule": 300.0},
    "followups.dispatch_due_sms": {"task": "followups.tasks.dispatch_due_sms", "schedule": 60.0},
    # Campaign SMS rounds whose messages have all gone out are marked done.
    "campaigns.finish_rounds": {"task": "campaigns.tasks.finish_rounds", "schedule": 60.0},
    # New call logs and recordings in the sources' folders (telephony.CallSource).
    "telephony.import_folders": {"task": "telephony.tasks.import_folders", "schedule": 300.0},
    # Lead file imports whose task message was lost (broker down when queued).
    "leads.requeue_lead_imports": {"task": "leads.tasks.requeue_lead_imports", "schedule": 120.0},
    # The pool (公海) rules and the manufacturer assignment windows (followups.pool).
    "followups.sweep_to_pool": {"task": "followups.tasks.sweep_to_pool", "schedule": 600.0},
    "followups.flag_unassigned": {"task": "followups.tasks.flag_unassigned", "schedule": 300.0},
    "followups.flag_overdue_appointments": {
        "task": "followups.tasks.flag_overdue_appointments",
        "schedule": 600.0,
    },
    # Campaign members due a call become call tasks (followups.campaigns.calls).
    "campaigns.generate_calls": {"task": "campaigns.tasks.generate_calls", "schedule": 300.0},
    # Last month's KPI workbook of every store, kept for download (CELERY_TIMEZONE: local).
    "kpi.monthly_export": {
        "task": "kpi.tasks.monthly_export",
        "schedule": crontab(minute=0, hour=1, day_of_month=1),
    },
}

# ---------------------------------------------------------------- SMS
# Pluggable like EMAIL_BACKEND: console (default), file, outbox-only, Tencent Cloud.
SMS_BACKEND = env.str("SMS_BACKEND", default="followups.backends.console.ConsoleBackend")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms.log")
SMS_TENCENT = {
    "secret_id": env.str("SMS_TENCENT_SECRET_ID", default=""),
    "secret_key": env.str("SMS_TENCENT_SECRET_KEY", default=""),
    "sdk_app_id": env.str("SMS_TENCENT_SDK_APP_ID", default=""),
    "region": env.str("SMS_TENCENT_REGION", default="ap-guangzhou"),
    "endpoint": env.str("SMS_TENCENT_ENDPOINT", default="sms.tencentcloudapi.com"),
    "scheme": env.str("SMS_TENCENT_SCHEME", default="https"),
}
# The secret in the provider's callback URLs (replies, delivery receipts):
# /followups/sms/callback/<token>/reply/ and …/status/. Empty: callbacks off.
SMS_CALLBACK_TOKEN = env.str("SMS_CALLBACK_TOKEN", default="")
# Messages a second the provider account takes (campaign rounds are paced
# to it, followups.sms.plan_batch); 0: no pacing.
SMS_RATE_PER_SECOND = env.float("SMS_RATE_PER_SECOND", default=50.0)
# Provider template ids by message kind, e.g. {"booking_customer": "1234567", ...}
SMS_TEMPLATE_IDS = env.json("SMS_TEMPLATE_IDS", default={})

# ---------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Noise of `make run`: kombu warns on every connection that the
        # filesystem broker's URL has no host name (it needs none), and
        # axes announces itself at every start of every process.
        "kombu.connection": {"level": "ERROR"},
        "axes.apps": {"level": "WARNING"},
    },
}

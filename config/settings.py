"""OpsConductor settings: everything comes from the environment (see .env.example).

``OPSCONDUCTOR_ENV`` is ``development`` (the default: embedded SQLite databases and a
filesystem broker under ``var/``, secrets generated into ``var/keys/``) or ``production``
(every secret and every connection must be given; the process refuses to start otherwise).
"""

from __future__ import annotations

import ipaddress
import sys
from datetime import timedelta
from pathlib import Path

import environ
from kombu import Exchange, Queue

from opsconductor.conf import (
    ALIAS_ENV_VARS,
    APP_ALIASES,
    ConfigurationError,
    is_fernet_key,
    new_django_secret,
    new_fernet_key,
    parse_alias_sizes,
    process_role,
    read_or_create_secret,
    store_identity,
)

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

OPSCONDUCTOR_ENV = env.str("OPSCONDUCTOR_ENV", default="development")
if OPSCONDUCTOR_ENV not in {"development", "production", "test"}:
    raise ConfigurationError(
        f"OPSCONDUCTOR_ENV must be development, production or test, not {OPSCONDUCTOR_ENV!r}"
    )
PRODUCTION = OPSCONDUCTOR_ENV == "production"
VAR_DIR = Path(env.str("OPSCONDUCTOR_VAR_DIR", default=str(BASE_DIR / "var")))
KEYS_DIR = VAR_DIR / "keys"


def _secret(name: str, make, *, purpose: str) -> str:
    """A secret from the environment; in development generated once into var/keys/."""
    value = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ConfigurationError(f"{name} must be set in production ({purpose}).")
    return read_or_create_secret(KEYS_DIR / name.lower(), make)


SECRET_KEY = _secret("SECRET_KEY", new_django_secret, purpose="Django's signing key")
if PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    # the same bar as Django's deploy check (security.W009), enforced at start-up
    raise ConfigurationError(
        "SECRET_KEY is too weak for production: use at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ConfigurationError(
        "DEBUG must be off in production (it shows settings and source code to anyone)."
    )
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Addresses or networks of the proxies in front (the gateway): their X-Forwarded-For is believed
# when recording a client's address and throttling logins. Empty: REMOTE_ADDR is the client.
try:
    TRUSTED_PROXIES = [
        ipaddress.ip_network(value, strict=False)
        for value in env.list("TRUSTED_PROXIES", default=[])
    ]
except ValueError as exc:
    raise ConfigurationError(f"TRUSTED_PROXIES: {exc}") from exc

# Sealing of stored secrets (credentials, secret parameters). A comma-separated list of Fernet
# keys, newest first: the first seals, all unseal, so keys rotate without downtime.
OPSCONDUCTOR_SEAL_KEYS = [
    key.strip()
    for key in _secret(
        "OPSCONDUCTOR_SEAL_KEYS", new_fernet_key, purpose="keys that seal stored secrets"
    ).split(",")
    if key.strip()
]
_bad_seal_keys = [i + 1 for i, key in enumerate(OPSCONDUCTOR_SEAL_KEYS) if not is_fernet_key(key)]
if not OPSCONDUCTOR_SEAL_KEYS or _bad_seal_keys:
    raise ConfigurationError(
        "OPSCONDUCTOR_SEAL_KEYS must be a comma-separated list of Fernet keys (32 url-safe "
        f"base64-encoded bytes each); malformed: key number(s) {_bad_seal_keys or 'none given'}."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "opsconductor",
    "apps.accounts",
    "apps.targets",
    "apps.jobs",
    "apps.execution",
    "apps.scheduling",
    "apps.audit",
    "legacy_bridge",
    "legacy_bridge.importing.apps.LegacyImportConfig",
]

MIDDLEWARE = [
    "opsconductor.observability.middleware.RequestContextMiddleware",
    "opsconductor.observability.middleware.HttpMetricsMiddleware",
    "opsconductor.api.middleware.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # static files (the console's bundle, the admin's) from this process, compressed, the
    # console's hashed files cached for good; the gateway serves /static/ itself when it can
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last: a view's lost database connection is a 503, not a 500
    "opsconductor.api.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
# What the streams process (ASGI, opsconductor/asgi.py) answers: the live streams of runs.
STREAMS_URLCONF = "config.urls_streams"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Databases: one alias per app ---------------------------------------------------------------
# DATABASE_URL is the default database. <APP>_DATABASE_URL moves one app to a database of its own;
# unset ones fall back to DATABASE_URL. With no DATABASE_URL at all (the embedded default), every
# alias is its own SQLite file under var/db/, so boundaries hold even on a laptop.
SQLITE_OPTIONS = {
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so a
    # busy database waits (timeout) instead of failing mid-transaction with "database is locked".
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}


# A connection budget per process (docs/deploy.md, "Database connections"; ADR 0018): every
# PostgreSQL alias has a pool in each process (psycopg_pool, through Django). A thread takes a
# connection at its first query of a unit of work (a request, a task, a loop's tick) and gives it
# back at the unit's end, so a process never holds more than the sum of its pools' sizes. A
# thread waits up to DATABASE_POOL_TIMEOUT_SECONDS for one (then the API answers 503, a task runs
# again); an idle pool closes one unused connection every DATABASE_POOL_MAX_IDLE_SECONDS.
# The sizes per alias default by the process's role (its command line; measured, ADR 0018);
# DATABASE_POOL_MAX_SIZE sets every alias's instead, DATABASE_POOL_MAX_SIZES ("execution=6,
# audit=1") single aliases. A size of 0: no pool, a persistent connection per thread and alias
# (DATABASE_CONN_MAX_AGE), as before pooling (e.g. behind a pooler of your own).
PROCESS_ROLE = process_role(sys.argv)
DATABASE_POOL_ROLE_SIZES: dict[str, dict[str, int]] = {
    # every authenticated request takes "default" (the user) first and holds it to its end: with
    # no app alias's pool smaller than default's, no request ever waits for an app alias while
    # holding another (ADR 0018)
    "web": {"*": 2},
    # the live-stream process (ASGI): requests answered one at a time, and one poller on
    # "execution"
    "streams": {"*": 1, "execution": 2},
    # slices, the writer, the housekeeping thread and the reaper share "execution"
    "worker": {"*": 2, "execution": 4},
    "beat": {"*": 1},  # one thread, on "scheduling"
    "migrate": {"*": 1},  # one thread
    "other": {"*": 4},  # commands, shells, the test suite
}
_role_sizes = DATABASE_POOL_ROLE_SIZES[PROCESS_ROLE]
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=-1)  # -1: the role's sizes
DATABASE_POOL_MAX_SIZES = {
    alias: (
        DATABASE_POOL_MAX_SIZE
        if DATABASE_POOL_MAX_SIZE >= 0
        else _role_sizes.get(alias, _role_sizes["*"])
    )
    for alias in ALIAS_ENV_VARS
}
DATABASE_POOL_MAX_SIZES.update(
    parse_alias_sizes(
        env.str("DATABASE_POOL_MAX_SIZES", default=""),
        ALIAS_ENV_VARS,
        variable="DATABASE_POOL_MAX_SIZES",
    )
)
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=0)
DATABASE_POOL_TIMEOUT_SECONDS = env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0)
DATABASE_POOL_MAX_IDLE_SECONDS = env.float("DATABASE_POOL_MAX_IDLE_SECONDS", default=10.0)


def _pool(alias: str) -> dict | None:
    max_size = DATABASE_POOL_MAX_SIZES[alias]
    if max_size <= 0:
        return None
    from opsconductor.db.pooling import connection_class

    return {
        "name": alias,
        "min_size": min(DATABASE_POOL_MIN_SIZE, max_size),
        "max_size": max_size,
        "timeout": DATABASE_POOL_TIMEOUT_SECONDS,
        "max_idle": DATABASE_POOL_MAX_IDLE_SECONDS,
        # a connection the pool cannot make is tried once more, not again and again in the
        # background: the next thread that needs one tries (opsconductor.db.pooling), so while
        # the database is away each checkout is one attempt that fails at once, and the first
        # after it is back succeeds
        "reconnect_timeout": 0.0,
        # while the database refuses connections a thread waits 1.5 s at most, not the timeout
        "connection_class": connection_class(alias, DATABASE_POOL_TIMEOUT_SECONDS),
    }


def _database(alias: str) -> dict:
    url = env.str(ALIAS_ENV_VARS[alias], default="") or env.str("DATABASE_URL", default="")
    if not url:
        if PRODUCTION:
            raise ConfigurationError("DATABASE_URL must be set in production (PostgreSQL).")
        (VAR_DIR / "db").mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'db' / f'{alias}.sqlite3'}"
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if PRODUCTION:
            raise ConfigurationError(
                f"{ALIAS_ENV_VARS[alias]}: SQLite is the embedded default only; "
                "production needs PostgreSQL."
            )
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    else:
        options = config.setdefault("OPTIONS", {})
        # pg_stat_activity tells the processes' connections apart: role and alias
        options.setdefault("application_name", f"opsconductor-{PROCESS_ROLE}:{alias}")
        pool = _pool(alias)
        if pool is not None:
            options["pool"] = pool
            config["CONN_MAX_AGE"] = 0  # the pool keeps the connections (Django requires 0)
        else:
            config.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
        # with a pool: a connection is checked when taken from it (a dead one is replaced)
        config["CONN_HEALTH_CHECKS"] = True
    # no alias waits for "default" to be set up first: a test using one app's alias only
    # (SQLite: a file per alias) runs on its own
    config["TEST"] = {"SERIALIZE": False, "DEPENDENCIES": []}
    return config


DATABASES = {alias: _database(alias) for alias in ALIAS_ENV_VARS}
# Which aliases share one physical database (the router creates an app's tables once per database).
DATABASE_STORES = {alias: store_identity(cfg) for alias, cfg in DATABASES.items()}
DATABASE_APP_ALIASES = {
    **APP_ALIASES,
    "auth": "default",
    "contenttypes": "default",
    "admin": "default",
    "sessions": "default",
    "token_blacklist": "default",
    "django_celery_beat": "scheduling",
    "legacy_bridge": "default",
    "legacy_import": "default",
}
DATABASE_ROUTERS = ["opsconductor.db.router.AppDatabaseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    # Legacy users keep their bcrypt hashes and are upgraded on their next login.
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# The web console's built bundle (console/ -> npm run build -> opsconductor/console/bundle/,
# committed): /static/console/...
STATICFILES_DIRS = [("console", BASE_DIR / "opsconductor" / "console" / "bundle")]
# WhiteNoise serves from the finders too: no collectstatic needed to serve the console or the
# admin from the web process (`make run`, tests); a deployment may still collect to STATIC_ROOT
# for the gateway
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Vite names the console's files by their content hash: cache them for a year
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.+[-.][0-9A-Za-z_-]{8,}\.(?:js|css|woff2?|svg|png)$"

# --- Cache (login throttling, token last-used) -------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if PRODUCTION and not REDIS_URL:
    # A per-process cache would multiply the login-throttling limits by the number of processes.
    raise ConfigurationError("REDIS_URL must be set in production (the shared cache).")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "opsconductor",
        }
    }

# --- REST API ---------------------------------------------------------------------------------
# What a request may be (docs/api.md, "Limits"); answered in the API's error shape.
# A body the API parses (JSON, form, YAML...): 413 above this; the gateway's limit is 10 MB too.
# The legacy bridge streams its bodies and is not bound by it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000  # form fields / query parameters: 400 above
API_MAX_NESTING_DEPTH = 32  # levels of objects/arrays in a body: 400 above
API_MAX_BODY_VALUES = 1_000_000  # values in a parsed body (YAML aliases included): 400 above
# The URL (path and query): 414 above. gunicorn's request line limit is raised to its maximum
# (8190, deploy/entrypoint.sh) so this, in the API's shape, is the one that applies.
API_MAX_URL_BYTES = 8000

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "apps.accounts.http.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["opsconductor.api.permissions.ViewerReadManagerWrite"],
    "DEFAULT_PAGINATION_CLASS": "opsconductor.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "opsconductor.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "opsconductor.api.parsers.JSONParser",
        "opsconductor.api.parsers.FormParser",
        "opsconductor.api.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OpsConductor API",
    "DESCRIPTION": (
        "Self-hosted operations automation: targets, jobs, runs, schedules and audit. "
        "Authenticate with a JWT (`Authorization: Bearer <access>`) from `/api/v1/auth/token/` "
        "or an API token (`Authorization: Token <value>`). Every error has the shape "
        '`{"error": {"code", "message", "fields", "request_id"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "apps.execution.models.RunStatus",
        "RunTargetStatusEnum": "apps.execution.models.TargetStatus",
        "ScheduleKindEnum": "apps.scheduling.models.Kind",
        "ChannelKindEnum": "apps.scheduling.models.NotificationChannel.ChannelKind",
        "AlertEventEnum": "apps.scheduling.models.AlertEvent",
        "FiringOutcomeEnum": "apps.scheduling.models.FiringOutcome",
        "DeliveryAttemptOutcomeEnum": [("delivered", "delivered"), ("failed", "failed")],
    },
    # The Swagger UI assets are served from this server (no CDN), for networks without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # the errors every operation shares, added to the views' own answers (config/openapi.py)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.declare_errors",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiToken": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <value>`, an API token created at /api/v1/tokens/.",
            }
        }
    },
}

# JWT for people. Access tokens live at most 15 minutes; refresh tokens rotate and the old one is
# blacklisted. The signing key is separate from SECRET_KEY so either can rotate alone.
JWT_SIGNING_KEY = _secret("JWT_SIGNING_KEY", new_django_secret, purpose="signs JWTs")
if JWT_SIGNING_KEY == SECRET_KEY:
    raise ConfigurationError("JWT_SIGNING_KEY must differ from SECRET_KEY (they rotate apart).")
JWT_ACCESS_MINUTES = min(env.int("JWT_ACCESS_MINUTES", default=15), 15)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env.int("JWT_REFRESH_HOURS", default=24)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Access tokens carry a digest of the password hash: changing a password ends every session
    # at once, not only when the 15-minute access token expires.
    "CHECK_REVOKE_TOKEN": True,
}
# Failed logins before the login endpoint answers 429, and for how long.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=300)
# Failed logins from one client address (any usernames) before 429.
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=4 * LOGIN_FAILURE_LIMIT)

# --- Celery -----------------------------------------------------------------------------------
# One queue per app so each app's workers can move out with it; "kernel" carries event relays.
# CELERY_QUEUE_PREFIX lets several installations (or test runs) share one broker vhost.
CELERY_QUEUE_PREFIX = env.str("CELERY_QUEUE_PREFIX", default="")
OPSCONDUCTOR_QUEUES = [CELERY_QUEUE_PREFIX + label for label in ("kernel", *APP_ALIASES)]
# Each queue has its own direct exchange and routing key: a task sent to one app's queue lands
# in that queue only. CELERY_QUEUE_EXPIRES_SECONDS deletes queues left unused (test runs).
_QUEUE_EXPIRES = env.int("CELERY_QUEUE_EXPIRES_SECONDS", default=0)
CELERY_TASK_QUEUES = [
    Queue(
        name,
        Exchange(name, type="direct"),
        routing_key=name,
        queue_arguments={"x-expires": _QUEUE_EXPIRES * 1000} if _QUEUE_EXPIRES else None,
    )
    for name in OPSCONDUCTOR_QUEUES
]
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
if not CELERY_BROKER_URL:
    if PRODUCTION:
        raise ConfigurationError("CELERY_BROKER_URL must be set in production (RabbitMQ).")
    # kombu's filesystem transport, writing each message whole (opsconductor/broker.py)
    CELERY_BROKER_URL = "ocfilesystem://localhost/"
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = CELERY_QUEUE_PREFIX + "kernel"
CELERY_TASK_ROUTES = ["opsconductor.tasks_routing.route_task"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# After a broker reconnect Celery lowers the prefetch count and restores it from the thread
# that acknowledges a task; with the threads pool that thread then talks on the consumer's AMQP
# connection at the same time as the event loop and hangs the worker for good (seen in
# tests/reliability: a RabbitMQ restart during a run). Keep the prefetch count as it is.
CELERY_WORKER_ENABLE_PREFETCH_COUNT_REDUCTION = False
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3540)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "targets-health-check": {
        "task": "apps.targets.tasks.check_all_targets",
        "schedule": env.float("TARGET_HEALTH_INTERVAL_SECONDS", default=900.0),
    },
    "relay-outbox-sweep": {
        "task": "opsconductor.events.tasks.sweep_outbox",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=15.0),
    },
    "execution-reap": {
        "task": "apps.execution.tasks.reap_runs",
        "schedule": env.float("EXECUTION_REAP_SECONDS", default=10.0),
    },
    # The scheduler's clock (docs/adr/0010): one tick a second fires what is due. A tick that
    # waited in the queue longer than a few seconds is dropped (the next one does its work).
    "scheduling-tick": {
        "task": "apps.scheduling.tasks.fire_due",
        "schedule": env.float("SCHEDULING_TICK_SECONDS", default=1.0),
        "options": {"expires": 5},
    },
    "audit-retention": {
        "task": "apps.audit.tasks.purge_expired",
        "schedule": env.float("AUDIT_RETENTION_CHECK_SECONDS", default=86400.0),
    },
    # the hash chain walked end to end; its result is GET /api/v1/audit/verification/
    "audit-verify": {
        "task": "apps.audit.tasks.verify_chain",
        "schedule": env.float("AUDIT_VERIFY_SECONDS", default=86400.0),
    },
    "scheduling-alert-retries": {
        "task": "apps.scheduling.tasks.retry_notifications",
        "schedule": 30.0,
    },
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Targets: how long one health check may take, and how often every active target is checked
# (TARGET_HEALTH_INTERVAL_SECONDS, in the beat schedule above).
TARGET_HEALTH_TIMEOUT_SECONDS = env.float("TARGET_HEALTH_TIMEOUT_SECONDS", default=10.0)

# Events: a subscriber that keeps failing is retried this often (backoff from the delay, in
# seconds, doubling up to 5 minutes), then the event is kept as a failed delivery.
EVENT_DELIVERY_MAX_RETRIES = env.int("EVENT_DELIVERY_MAX_RETRIES", default=10)
EVENT_DELIVERY_RETRY_DELAY = env.float("EVENT_DELIVERY_RETRY_DELAY", default=2.0)
# Events: a relayed outbox row is kept this long (for inspection), then purged by the sweep.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
# The sweep relays rows left unrelayed for longer than this (a crash between commit and relay).
OUTBOX_SWEEP_GRACE_SECONDS = env.int("OUTBOX_SWEEP_GRACE_SECONDS", default=10)

# --- Metrics (GET /metrics; docs/operations.md, "Metrics") --------------------------------------
# A scraper gets in with "Authorization: Bearer <METRICS_TOKEN>" (when set) or from an address in
# METRICS_ALLOWED_NETWORKS (comma-separated CIDRs; empty: none). Anyone else: 401/403.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(value.strip(), strict=False)
        for value in env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
        if value.strip()
    ]
except ValueError as exc:
    raise ConfigurationError(f"METRICS_ALLOWED_NETWORKS: {exc}") from exc
# The run and target duration histograms cover what finished in this window.
METRICS_DURATION_WINDOW_SECONDS = env.int("METRICS_DURATION_WINDOW_SECONDS", default=3600)
# How long a scrape waits for the broker (queue depths) before reporting it down.
METRICS_BROKER_TIMEOUT_SECONDS = env.float("METRICS_BROKER_TIMEOUT_SECONDS", default=2.0)
# GET /api/v1/system/status/ (the console's System page): answers are shared through the cache
# for this long, so many open pages do not each ask the broker and the workers.
SYSTEM_STATUS_CACHE_SECONDS = env.float("SYSTEM_STATUS_CACHE_SECONDS", default=5.0)
# How long it waits for the workers to answer the broadcast that lists them.
SYSTEM_STATUS_INSPECT_TIMEOUT_SECONDS = env.float(
    "SYSTEM_STATUS_INSPECT_TIMEOUT_SECONDS", default=1.0
)

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# The console's session (docs/console.md): a cookie scripts cannot read, sent on same-site
# requests only, ending SESSION_SECONDS after sign-in (12 h by default)
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_SECONDS", default=12 * 3600)
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "opsconductor.observability.logging.RequestContextFilter"},
        "driver_detail": {"()": "opsconductor.observability.logging.DriverDetailFilter"},
    },
    "formatters": {
        "json": {"()": "opsconductor.observability.logging.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        # the connection pools' own warnings and beat's scheduler errors, without host or
        # database names
        "psycopg.pool": {"filters": ["driver_detail"]},
        "django_celery_beat.schedulers": {"filters": ["driver_detail"]},
    },
}


# A 403 of the API is recorded by this function (an event for the audit trail).
API_DENIAL_RECORDER = "apps.accounts.interface.record_permission_denied"

# --- Audit (docs/audit.md) -----------------------------------------------------------------------
# Records older than this are purged (daily, oldest first), leaving a signed checkpoint.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# If set, each purged batch is first written there as JSON Lines.
AUDIT_RETENTION_EXPORT_DIR = env.str("AUDIT_RETENTION_EXPORT_DIR", default="")
# HMAC key of retention checkpoints (default: derived from SECRET_KEY).
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
# How often the hash chain is verified end to end (beat; the result: /api/v1/audit/verification/).
AUDIT_VERIFY_SECONDS = env.float("AUDIT_VERIFY_SECONDS", default=86400.0)


# --- Scheduling (docs/scheduling.md) -------------------------------------------------------------
# The time zone of a schedule created without one (an IANA name).
SCHEDULING_DEFAULT_TIMEZONE = env.str("SCHEDULING_DEFAULT_TIMEZONE", default=TIME_ZONE)
# How often Celery beat sends the scheduler's tick; a tick also waits for due times within it.
SCHEDULING_TICK_SECONDS = env.float("SCHEDULING_TICK_SECONDS", default=1.0)
SCHEDULING_WEBHOOK_TIMEOUT_SECONDS = env.float("SCHEDULING_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
SCHEDULING_WEBHOOK_MAX_ATTEMPTS = env.int("SCHEDULING_WEBHOOK_MAX_ATTEMPTS", default=5)
SCHEDULING_WEBHOOK_BACKOFF_SECONDS = env.float("SCHEDULING_WEBHOOK_BACKOFF_SECONDS", default=30.0)


# --- Legacy bridge (docs/legacy-bridge.md) -------------------------------------------------------
# Where unmigrated legacy routes are forwarded (scheme, host, port; e.g. http://legacy.internal:8000).
# Unset: routes in `proxy` mode answer 502 naming the missing setting.
LEGACY_BACKEND_URL = env.str("LEGACY_BACKEND_URL", default="").rstrip("/")
# Connecting to the backend, and waiting for its response headers (then 504).
LEGACY_BACKEND_CONNECT_TIMEOUT_SECONDS = env.float(
    "LEGACY_BACKEND_CONNECT_TIMEOUT_SECONDS", default=3.0
)
LEGACY_BACKEND_TIMEOUT_SECONDS = env.float("LEGACY_BACKEND_TIMEOUT_SECONDS", default=30.0)
# Longest silence inside a response body being streamed (an event stream's keep-alive gap).
LEGACY_BACKEND_STREAM_IDLE_SECONDS = env.float("LEGACY_BACKEND_STREAM_IDLE_SECONDS", default=300.0)
# Connections kept open to the backend per web process (more are opened under load, not kept).
LEGACY_BACKEND_POOL_SIZE = env.int("LEGACY_BACKEND_POOL_SIZE", default=16)
# The backend's health endpoint, probed by /readyz (2 s at most) while the breaker is closed.
LEGACY_BACKEND_HEALTH_PATH = env.str("LEGACY_BACKEND_HEALTH_PATH", default="/api/v3/system/health")
# Circuit breaker (per web process): opens after this many consecutive connect failures or
# timeouts, answers 503 at once while open, lets one trial request through after the cool-down.
LEGACY_BRIDGE_BREAKER_FAILURES = env.int("LEGACY_BRIDGE_BREAKER_FAILURES", default=5)
LEGACY_BRIDGE_BREAKER_COOLDOWN_SECONDS = env.float(
    "LEGACY_BRIDGE_BREAKER_COOLDOWN_SECONDS", default=30.0
)
# The route table's defaults ("prefix=mode", comma-separated); rows in the database (admin, API)
# override them. The longest matching prefix wins.
LEGACY_BRIDGE_DEFAULT_ROUTES = env.list(
    "LEGACY_BRIDGE_DEFAULT_ROUTES", default=["/api/v3=proxy", "/api/schedules=proxy"]
)
# Each request reads the route table's version (one primary-key read) so a flip applies at
# once in every process; a number of seconds here reads it at most that often instead.
LEGACY_BRIDGE_ROUTES_CHECK_SECONDS = env.float("LEGACY_BRIDGE_ROUTES_CHECK_SECONDS", default=0.0)
# Traffic counts (GET /api/v1/bridge/routes/) are summed in memory and written this often;
# 0 writes one upsert per request.
LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS = env.float("LEGACY_BRIDGE_TRAFFIC_FLUSH_SECONDS", default=5.0)
# Hourly traffic buckets older than this are deleted when new ones are written.
LEGACY_BRIDGE_TRAFFIC_RETENTION_DAYS = env.int("LEGACY_BRIDGE_TRAFFIC_RETENTION_DAYS", default=35)
# The legacy UI's sign-in (docs/adr/0020-legacy-sign-in.md). The legacy backend's JWT_SECRET_KEY:
# the bridge verifies and mints legacy-format tokens with it. Environment only, never logged.
LEGACY_JWT_SECRET_KEY = env.str("LEGACY_JWT_SECRET_KEY", default="")
# The legacy backend's Redis (its sessions, `user_session:<id>`): when set, the bridge checks
# legacy sessions there and writes the sessions it mints there, so the legacy backend accepts
# them on the prefixes it still serves. Unset: legacy sessions are checked by asking the
# legacy backend (GET /api/v3/auth/me), and bridge sessions are the bridge's only.
LEGACY_REDIS_URL = env.str("LEGACY_REDIS_URL", default="")
# Sliding session length (the legacy backend's minimum, 8 h) and the warning it reports.
LEGACY_SESSION_SECONDS = env.int("LEGACY_SESSION_SECONDS", default=28800)
LEGACY_SESSION_WARNING_SECONDS = env.int("LEGACY_SESSION_WARNING_SECONDS", default=120)
# How long the legacy backend's "this session is alive" answer is trusted (without Redis).
LEGACY_SESSION_CHECK_SECONDS = env.float("LEGACY_SESSION_CHECK_SECONDS", default=5.0)
# Legacy ids the bridge allocates for objects created in the new system start here: far above
# the legacy sequences, below 2**53 so JavaScript numbers stay exact (docs/legacy-bridge.md).
LEGACY_ID_FLOOR = env.int("LEGACY_ID_FLOOR", default=1_000_000_000)


# --- Execution (docs/execution.md) ---------------------------------------------------------
# Output kept per target of a run; beyond it a truncation marker, the rest is counted only.
EXECUTION_OUTPUT_LIMIT_BYTES = env.int("EXECUTION_OUTPUT_LIMIT_BYTES", default=10 * 1024 * 1024)
# Output waits at most this long in a worker before it is stored (and streamed).
EXECUTION_OUTPUT_FLUSH_SECONDS = env.float("EXECUTION_OUTPUT_FLUSH_SECONDS", default=0.25)
EXECUTION_CONNECT_TIMEOUT_SECONDS = env.float("EXECUTION_CONNECT_TIMEOUT_SECONDS", default=10.0)
# How often a worker checks whether the runs it works on were canceled.
EXECUTION_CANCEL_POLL_SECONDS = env.float("EXECUTION_CANCEL_POLL_SECONDS", default=1.0)
EXECUTION_HEARTBEAT_SECONDS = env.float("EXECUTION_HEARTBEAT_SECONDS", default=5.0)
# A running target whose worker has been silent this long is lost (or requeued).
EXECUTION_LOST_AFTER_SECONDS = env.float("EXECUTION_LOST_AFTER_SECONDS", default=30.0)
EXECUTION_REAP_SECONDS = env.float("EXECUTION_REAP_SECONDS", default=10.0)
# Whether execution workers run the reaper themselves (besides the beat task).
EXECUTION_WORKER_REAPS = env.bool("EXECUTION_WORKER_REAPS", default=True)
# A queued target no worker has taken for this long has its unit of work sent again.
EXECUTION_REQUEUE_AFTER_SECONDS = env.float("EXECUTION_REQUEUE_AFTER_SECONDS", default=120.0)
# Targets of a run sent to a worker as one unit (claimed, prepared and reported together; each
# runs in its own thread). A worker process runs up to its Celery concurrency times this many.
EXECUTION_SLICE_SIZE = env.int("EXECUTION_SLICE_SIZE", default=25)
EXECUTION_POOL_IDLE_SECONDS = env.float("EXECUTION_POOL_IDLE_SECONDS", default=300.0)
EXECUTION_POOL_MAX_PER_TARGET = env.int("EXECUTION_POOL_MAX_PER_TARGET", default=4)
# A worker's writer keeps what it could not write while the database is unreachable: this many
# bytes in memory, then this many more in a spill file under VAR_DIR/execution-spill/, and it
# tries again this often (docs/execution.md, "Database outages").
EXECUTION_WRITER_MEMORY_BYTES = env.int("EXECUTION_WRITER_MEMORY_BYTES", default=64 * 1024 * 1024)
EXECUTION_WRITER_SPILL_BYTES = env.int("EXECUTION_WRITER_SPILL_BYTES", default=1024 * 1024 * 1024)
EXECUTION_WRITER_RETRY_SECONDS = env.float("EXECUTION_WRITER_RETRY_SECONDS", default=1.0)
# The live stream polls the run's log this often.
EXECUTION_STREAM_POLL_SECONDS = env.float("EXECUTION_STREAM_POLL_SECONDS", default=0.25)
# Celery's Django fix-up closes every database connection before and after each task unless
# this is set; without a pool a worker thread then reconnects to every database it touches for
# every target of a run (measured: most of a warm run's time). The fix-up then closes them only
# every 2 x this many tasks of the process; opsconductor.db.reconnect refreshes them before and
# after every task instead: with a pool (the default) that gives them back to the pool after
# every task, which costs nothing; without one a dead one is closed, CONN_MAX_AGE and
# CONN_HEALTH_CHECKS apply.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# How long a unit of database work (a task, a write of the execution writer) is retried when
# the database connection is lost or refused (a restart, a failover), with backoff from 0.2 s
# to 5 s, before it fails (docs/operations.md, "Database restarts and outages").
DATABASE_RETRY_SECONDS = env.float("DATABASE_RETRY_SECONDS", default=15.0)
# What a client is told to wait (Retry-After) when the API answers 503 during an outage.
DATABASE_OUTAGE_RETRY_AFTER_SECONDS = env.int("DATABASE_OUTAGE_RETRY_AFTER_SECONDS", default=5)

# --- Legacy import (docs/migration.md) ----------------------------------------------------------
# The legacy backend's PostgreSQL database (read only) and its SECRET_KEY, which unseals the
# legacy credentials. Environment only: never a command-line argument (it would show in `ps`).
LEGACY_DATABASE_URL = env.str("LEGACY_DATABASE_URL", default="")
LEGACY_SECRET_KEY = env.str("LEGACY_SECRET_KEY", default="")

"""Settings for the integration hub, read from the environment (12-factor).

Every knob is an environment variable documented in the README; nothing here
may hold a production secret.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("ESS_ALLOW_INSECURE_SECRET_KEY"):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # hub comes before django_q so that its `qcluster` command (which also
    # starts the delivery dispatchers) overrides django-q2's.
    "hub",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally: no CDN on offline machines
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves STATIC_ROOT (filled by `collectstatic`) from gunicorn itself, so
    # the admin has its CSS without a separate web server in front.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

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

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: WAL lets the web server read while a worker writes,
    # IMMEDIATE makes writers queue for the lock instead of failing mid-way.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# One-time secrets shown after create/rotate stay server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Request bodies: a 1,000-event batch of ordinary events fits; a larger body
# gets a JSON 413 from the API's parser (hub.api.parsers), never an HTML 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ESS_MAX_BODY_BYTES", 64 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hub.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["hub.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "hub.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integration hub API",
    "DESCRIPTION": "Publish change events; register, replay and poll as a subscriber.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# django-q2 runs the scheduled and asynchronous work (sweeps, file reloads,
# batch connectors). Webhook delivery itself runs in the dispatcher processes
# that our `qcluster` command starts beside it (hub.dispatch).
Q_CLUSTER = {
    "name": "ess",
    "orm": "default",
    "workers": env_int("ESS_Q_WORKERS", 2),
    "timeout": 300,
    "retry": 600,
    "max_attempts": 1,
    "catch_up": False,
    "poll": 1,
    "save_limit": 250,
    "ack_failures": True,
    "label": "Tasks",
}
if os.environ.get("ESS_REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["ESS_REDIS_URL"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- The hub's own settings (README "Configuration") ---
ESS_VERSION = "0.1.0"
ESS_ENCRYPTION_KEYS = env_list("ESS_ENCRYPTION_KEYS")
ESS_SUBSCRIBERS_DIR = Path(os.environ.get("ESS_SUBSCRIBERS_DIR") or BASE_DIR / "subscribers")
ESS_ALLOW_HTTP_HOSTS = env_list("ESS_ALLOW_HTTP_HOSTS")
ESS_ALLOW_PRIVATE_NETWORKS = env_list("ESS_ALLOW_PRIVATE_NETWORKS")
ESS_CA_BUNDLE = os.environ.get("ESS_CA_BUNDLE", "")
ESS_PII_FIELDS = env_list("ESS_PII_FIELDS")
ESS_RETRY_BASE_SECONDS = env_float("ESS_RETRY_BASE_SECONDS", 30.0)
ESS_RETRY_CAP_SECONDS = env_float("ESS_RETRY_CAP_SECONDS", 3600.0)
ESS_MAX_RETRIES = env_int("ESS_MAX_RETRIES", 5)
ESS_DELIVERY_TIMEOUT_SECONDS = env_float("ESS_DELIVERY_TIMEOUT_SECONDS", 10.0)
ESS_DELIVERY_LEASE_SECONDS = env_float("ESS_DELIVERY_LEASE_SECONDS", 60.0)
ESS_DISPATCHERS = env_int("ESS_DISPATCHERS", 2)
ESS_DISPATCH_CONCURRENCY = env_int("ESS_DISPATCH_CONCURRENCY", 64)
ESS_DISPATCH_POLL_SECONDS = env_float("ESS_DISPATCH_POLL_SECONDS", 1.0 if IS_POSTGRES else 0.2)
ESS_MAX_EVENT_BYTES = 262_144
ESS_MAX_BATCH = 1000
ESS_MAX_JSON_DEPTH = env_int("ESS_MAX_JSON_DEPTH", 64)
ESS_API_KEY_CACHE_SECONDS = env_float("ESS_API_KEY_CACHE_SECONDS", 5.0)
ESS_ROTATION_OVERLAP_HOURS = env_float("ESS_ROTATION_OVERLAP_HOURS", 24.0)

"""imgrec settings: one module, read from the environment (see README "Settings")."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dj_database_url
import xstatic.pkg.bootstrap

from imgrec_site.env import envbool, envcache, envchoice, envfloat, envint, envlist

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DJANGO_DEBUG", "false")

# Only what signs (sessions, CSRF, serving) needs a key: management commands run without one.
# `make run` creates var/secret_key; imgrec_site/wsgi.py refuses to serve with an empty key.
SECRET_KEY_FILE = BASE_DIR / "var" / "secret_key"
SECRET_KEY = os.getenv("DJANGO_SECRET_KEY", "")
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"


ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_bootstrap5",
    "recognizer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "imgrec_site.urls"
WSGI_APPLICATION = "imgrec_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
                "recognizer.pages.context_processors.weights_banner",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DJANGO_CONN_MAX_AGE", "60"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite (`make run` without a DATABASE_URL): a write-ahead log, synced at checkpoints rather than at every
    # commit. A commit then costs no fsync (it was 5% of an API request's samples); a crash of the process loses
    # nothing, a power cut at most the last commits, never the file's consistency. Readers no longer wait for
    # a writer either. PostgreSQL is the database for anything shared (docs/operations.md).
    SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = SQLITE_PRAGMAS
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"

# --- imgrec ---------------------------------------------------------------------------------
IMGREC_MODELS = envlist("IMGREC_MODELS", "resnet50,vgg19,efficientnet_lite0")
IMGREC_WEIGHTS = envchoice("IMGREC_WEIGHTS", "imagenet", ("imagenet", "random"))
IMGREC_PRECISION = envchoice("IMGREC_PRECISION", "fp32", ("fp32", "fast"))  # fast: int8 (inference/precision.py)
IMGREC_WEIGHTS_DIR = os.getenv("IMGREC_WEIGHTS_DIR", "")
IMGREC_CACHE_DIR = Path(os.getenv("IMGREC_CACHE_DIR", str(BASE_DIR / "var" / "cache")))
IMGREC_PRELOAD = envbool("IMGREC_PRELOAD", "false")
IMGREC_MAX_UPLOAD_MB = envint("IMGREC_MAX_UPLOAD_MB", "10", minimum=1)
IMGREC_MAX_PIXELS = envint("IMGREC_MAX_PIXELS", "40000000", minimum=1)
# Decoded pixels in flight per process (recognizer/inference/budget.py): up to ~13 bytes each, so 64 MPX < 1 GB.
IMGREC_DECODE_BUDGET_MPX = envint("IMGREC_DECODE_BUDGET_MPX", "64", minimum=1)
IMGREC_DECODE_BUDGET_PIXELS = IMGREC_DECODE_BUDGET_MPX * 1_000_000
IMGREC_HISTORY_DAYS = envint("IMGREC_HISTORY_DAYS", "30", minimum=1)  # purge_history deletes older entries

# Uploads stay in memory up to the cap; the cap is enforced while the body streams in.
IMGREC_MAX_UPLOAD_BYTES = IMGREC_MAX_UPLOAD_MB * 1024 * 1024
FILE_UPLOAD_HANDLERS = ["recognizer.ops.uploads.CappedMemoryUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = IMGREC_MAX_UPLOAD_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- imgrec inference engine (recognizer/inference/batching.py) ----------------------------------------
IMGREC_MAX_BATCH = envint("IMGREC_MAX_BATCH", "16", minimum=1)
IMGREC_BATCH_WAIT_MS = envfloat("IMGREC_BATCH_WAIT_MS", "2", minimum=0.0)
IMGREC_QUEUE_MAX = envint("IMGREC_QUEUE_MAX", "64", minimum=1)
IMGREC_TIMEOUT_S = envfloat("IMGREC_TIMEOUT_S", "30", minimum=0.1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"recognizer": {"handlers": ["console"], "level": os.getenv("IMGREC_LOG_LEVEL", "INFO")}},
}

# --- production security, rate limit, health (docs/operations.md) ---------------------------
# The upload limits answer before CsrfViewMiddleware reads the body (see recognizer/ops/middleware.py).
_after_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
MIDDLEWARE.insert(_after_security, "recognizer.ops.middleware.ContentSecurityPolicyMiddleware")
_before_csrf = MIDDLEWARE.index("django.middleware.csrf.CsrfViewMiddleware")
MIDDLEWARE.insert(_before_csrf, "recognizer.ops.middleware.UploadLimitMiddleware")

# Served over HTTPS (directly or behind a TLS-terminating proxy): secure cookies, HSTS, redirect.
DJANGO_HTTPS = envbool("DJANGO_HTTPS", "false")
_https_default = "true" if DJANGO_HTTPS else "false"
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", _https_default)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = DJANGO_HTTPS
CSRF_COOKIE_SECURE = DJANGO_HTTPS
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", "31536000" if DJANGO_HTTPS else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", _https_default)
SECURE_HSTS_PRELOAD = envbool("DJANGO_HSTS_PRELOAD", "false")
if envbool("DJANGO_BEHIND_TLS_PROXY", "false"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", "")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "recognizer.ops.handlers.csrf_failure"  # JSON under /api/, like the handlers in urls.py

# The rate limit's counters live here: production with several processes needs Redis or Memcached.
CACHES = envcache("DJANGO_CACHE_URL", "locmem://")
IMGREC_RATE_LIMIT = os.getenv("IMGREC_RATE_LIMIT", "60/minute")
IMGREC_CLIENT_IP_HEADER = os.getenv("IMGREC_CLIENT_IP_HEADER", "")

# --- metrics (recognizer/ops/metrics.py; docs/operations.md "Metrics") -------------------------------
# /metrics answers a Bearer token, or clients (after IMGREC_CLIENT_IP_HEADER) in the allow-list.
IMGREC_METRICS_TOKEN = os.getenv("IMGREC_METRICS_TOKEN", "")
IMGREC_METRICS_ALLOW = envlist("IMGREC_METRICS_ALLOW", "127.0.0.1,::1")
MIDDLEWARE.insert(0, "recognizer.ops.metrics.MetricsMiddleware")  # outermost: counts every answer
SECURE_REDIRECT_EXEMPT += [r"^metrics$"]

# --- scale-out: several app nodes behind the front (docs/operations.md, "Scaling out") --------
# With a shared cache (Redis), sessions are read from it and written through to the database, so
# any node answers any session; `make run`'s embedded default (locmem) keeps database sessions.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
IMGREC_NODE_NAME = os.getenv("IMGREC_NODE_NAME", "") or socket.gethostname()
MIDDLEWARE.insert(0, "recognizer.ops.middleware.NodeNameMiddleware")  # outermost: every response

# --- batch jobs on Celery (recognizer/jobs/, docs/operations.md "Batch jobs") -----------------
# The broker carries only chunk ids; PostgreSQL (the database) holds the jobs' images and results.
# Default: kombu's filesystem transport in var/broker/, which needs no server (`make run`).
IMGREC_BROKER_URL = os.getenv("IMGREC_BROKER_URL", "filesystem://")
IMGREC_BROKER_DIR = Path(os.getenv("IMGREC_BROKER_DIR", str(BASE_DIR / "var" / "broker")))
# Redis redelivers a chunk whose worker vanished (kill -9, a lost machine) after this many seconds.
IMGREC_BROKER_VISIBILITY_S = envint("IMGREC_BROKER_VISIBILITY_S", "600", minimum=1)
IMGREC_JOB_CHUNK = envint("IMGREC_JOB_CHUNK", "32", minimum=1)
IMGREC_ARCHIVE_MAX_MB = envint("IMGREC_ARCHIVE_MAX_MB", "512", minimum=1)
IMGREC_ARCHIVE_MAX_ENTRIES = envint("IMGREC_ARCHIVE_MAX_ENTRIES", "5000", minimum=1)
IMGREC_ARCHIVE_MAX_TOTAL_MB = envint("IMGREC_ARCHIVE_MAX_TOTAL_MB", "2048", minimum=1)
IMGREC_ARCHIVE_MAX_RATIO = envfloat("IMGREC_ARCHIVE_MAX_RATIO", "100", minimum=1.0)
# A job's upload (many `images` and/or one `archive`) streams to a temporary file under this cap.
DATA_UPLOAD_MAX_NUMBER_FILES = IMGREC_ARCHIVE_MAX_ENTRIES + 1
CELERY_BROKER_URL = IMGREC_BROKER_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": IMGREC_BROKER_VISIBILITY_S}
if IMGREC_BROKER_URL.startswith("filesystem:"):
    # kombu's own filesystem transport lets a polling consumer read a message half-written, and lose it.
    CELERY_BROKER_TRANSPORT = "recognizer.jobs.file_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(IMGREC_BROKER_DIR / "queue"),
        "data_folder_out": str(IMGREC_BROKER_DIR / "queue"),
        "control_folder": str(IMGREC_BROKER_DIR / "control"),
        # The transport polls its folder (1 s by default); a worker between two chunks would idle that long.
        "polling_interval": 0.05,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every worker, however it is started (`make worker`, `make run`'s, the tests', `celery ... worker` by hand): one
# process, never Celery's default prefork (a copy of the models per child), running two chunks at once on two
# threads so that one chunk's start overlaps the other's forward passes (docs/operations.md, "Batch jobs").
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = 2
CELERY_TASK_IGNORE_RESULT = True

# --- custom models (recognizer/custom/, docs/operations.md "Custom models") ----------------------
# A training set's size: its classes and its photos in all (each class needs at least 5).
IMGREC_CUSTOM_MAX_CLASSES = envint("IMGREC_CUSTOM_MAX_CLASSES", "20", minimum=2)
IMGREC_CUSTOM_MAX_PHOTOS = envint("IMGREC_CUSTOM_MAX_PHOTOS", "2000", minimum=10)

"""Reelgate settings. Every value comes from an environment variable.

The README lists each variable (the AWS_* ones of object storage in
docs/deploy.md). With nothing set, Reelgate runs on its embedded default:
SQLite in the project folder, django-q2's ORM broker and a local-memory
cache. DATABASE_URL switches to PostgreSQL and REDIS_URL to Redis for the
queue and the cache.
"""

import base64
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    database_from_url,
    envbool,
    envdecimal,
    envint,
    envlist,
    envstr,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def _secret_key() -> str:
    """SECRET_KEY, or a random key kept in a git-ignored file beside the code.

    A random persistent key is the safe default for a single machine; several
    machines sharing sessions and signatures must all be given SECRET_KEY.
    """
    key = envstr("SECRET_KEY")
    if key:
        return key
    key_file = BASE_DIR / ".reelgate-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()


def _provider_secrets_keys() -> list[str]:
    """PROVIDER_SECRETS_KEY: Fernet keys, comma-separated; the first encrypts, all decrypt.

    Without it, a random key kept in a git-ignored file beside the code, as
    for SECRET_KEY: enough for one machine. Machines sharing a database must
    all be given the same PROVIDER_SECRETS_KEY.
    """
    keys = envlist("PROVIDER_SECRETS_KEY")
    if keys:
        return keys
    key_file = BASE_DIR / ".reelgate-provider-secrets-key"
    if not key_file.exists():
        # A Fernet key: 32 random bytes, URL-safe base64.
        key_file.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
    return [key_file.read_text().strip()]


PROVIDER_SECRETS_KEYS = _provider_secrets_keys()
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

# Absolute base of URLs we hand out (result files, callbacks' links); empty
# means "the host the request came to".
PUBLIC_BASE_URL = envstr("PUBLIC_BASE_URL").rstrip("/")
# Server-side fetches of user URLs (callbacks, images) refuse private,
# loopback and link-local addresses unless this is on (development, tests).
ALLOW_PRIVATE_URLS = envbool("ALLOW_PRIVATE_URLS", False)
# Private networks (CIDRs) allowed all the same, e.g. an image host on the LAN.
ALLOWED_PRIVATE_NETWORKS = envlist("ALLOWED_PRIVATE_NETWORKS")
# The USD value of one credit; seed prices given in USD convert through it.
CREDIT_USD = envdecimal("CREDIT_USD", "0.01")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "accounts",
    "playground",
]

MIDDLEWARE = [
    # First, so every log record of a request carries its id (playground/ops/).
    "playground.ops.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Counts and times every request but static files' (GET /metrics).
    "playground.ops.middleware.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "playground.pages.security.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "playground.pages.common.header",
            ],
        },
    },
]

DATABASE_URL = envstr("DATABASE_URL")
DATABASES = {
    "default": database_from_url(DATABASE_URL)
    if DATABASE_URL
    else sqlite_database(BASE_DIR / "db.sqlite3")
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # The PostgreSQL server may be shared with other projects' test runs: each
    # test session creates and drops a database of its own name.
    DATABASES["default"]["TEST"] = {"NAME": f"test_reelgate_{secrets.token_hex(4)}"}
else:
    # Tests start real worker processes beside the test server, so the test
    # database is a file they can all open, not SQLite's in-memory default.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"reelgate-test-{secrets.token_hex(4)}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")
# Prefix of every cache and queue key; lets several installs (or test runs)
# share one Redis.
KEY_PREFIX = envstr("KEY_PREFIX", "reelgate")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": KEY_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-q2. Its tasks are at-least-once: a task still running after `timeout`
# is killed, and one not acknowledged after `retry` is handed out again, so
# `retry` must stay above `timeout` (django-q2 #114, #173). Our task functions
# re-read their row and do nothing when the work is already done.
Q_TIMEOUT = envint("Q_TIMEOUT", 900, minimum=10)
Q_CLUSTER = {
    "name": KEY_PREFIX,
    "workers": envint("Q_WORKERS", 2, minimum=1),
    "timeout": Q_TIMEOUT,
    "retry": Q_TIMEOUT + 120,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 200,
    "catch_up": False,
    "poll": 0.2,
    "label": "Task queue",
}
# Local renders have a django-q2 cluster of their own, RENDER_WORKERS
# processes on the queue RENDER_QUEUE, so a burst of renders never holds up
# result copies, webhooks and upstream work in the main cluster; `make run`
# and `manage.py serve` start it beside the main one. 0: renders share the
# main cluster. (django-q2 picks the queue from Q_CLUSTER_NAME, ALT_CLUSTERS
# its settings.)
RENDER_WORKERS = envint("RENDER_WORKERS", 1, minimum=0)
RENDER_QUEUE = f"{KEY_PREFIX}-renders"
Q_CLUSTER["ALT_CLUSTERS"] = {RENDER_QUEUE: {"workers": max(1, RENDER_WORKERS)}}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Sign-ins (the login page and the admin's): past this many failures for one
# username, or from one client address, within the window, every attempt is
# refused until the window ends (accounts/login.py). Counted in the cache.
LOGIN_FAILURES_PER_ACCOUNT = envint("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = envint("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = envint("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# Reverse proxies in front of Reelgate that append the client's address to
# X-Forwarded-For; 0 takes the connection's own address. Set it to the real
# number: more lets clients choose their address, fewer counts every client
# as the proxy.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0)
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Days an invitation link to a team may be used (accounts/membership.py).
INVITATION_DAYS = envint("INVITATION_DAYS", 7, minimum=1)

# E-mail (team invitations). Without EMAIL_HOST, messages are printed on the
# console of the web process (make run's terminal) instead of being sent.
EMAIL_HOST = envstr("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = envint("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    # Django would only refuse this when the first message is sent.
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set EMAIL_USE_TLS=0 with EMAIL_USE_SSL=1"
    )
# Seconds one SMTP connection may block the request that sends the message.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Reelgate <reelgate@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT") or BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT") or BASE_DIR / "media")
# `collectstatic` (production) writes a manifest; whitenoise then serves the
# compressed, hashed files. Without one (development, tests) it serves the
# files straight from the finders.
STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
WHITENOISE_MANIFEST_STRICT = False

# HTTPS behind a proxy: these need a real domain and are off by default so a
# plain-HTTP local install works; docs/deploy.md lists them for production,
# where `check --deploy` is then clean (tests/test_deploy_check.py).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
if envbool("BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Whatever the scheme: cookies scripts cannot read and other sites' forms do
# not carry (the pages' scripts take the CSRF token from the page, not the
# cookie), and the headers of playground/pages/security.py beside these.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Load balancers probe over plain HTTP: /healthz and /readyz answer themselves.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# LOG_FORMAT=json: one JSON object per line (python-json-logger) on stderr,
# each with the request id and the generation task id of the work it was
# logged in (playground/ops/logs.py); text: plain lines.
LOG_FORMAT = envstr("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "playground.ops.logs.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "process", "message"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own handlers (DEBUG's console, runserver's request lines,
        # warnings) write plain text: in JSON, everything goes to the root's.
        **(
            {
                name: {"handlers": [], "propagate": True}
                for name in ("django", "django.server", "py.warnings")
            }
            if LOG_FORMAT == "json"
            else {}
        ),
    },
}

# The generation engine.
# A worker renews its lease on a generation while it works; when the lease
# runs out (the worker died) the sweeper hands the generation out again.
GENERATION_LEASE_SECONDS = envint("GENERATION_LEASE_SECONDS", 60, minimum=2)
# Attempts a generation gets before it fails with WORKER_LOST.
GENERATION_MAX_ATTEMPTS = envint("GENERATION_MAX_ATTEMPTS", 3, minimum=1)
# The sweeper's period and how long a dispatched task may sit in the queue
# before it is dispatched again (a restarted broker may have lost it).
SWEEP_SECONDS = envint("SWEEP_SECONDS", 2, minimum=1)
REDISPATCH_SECONDS = envint("REDISPATCH_SECONDS", 120, minimum=5)
# GET /readyz answers 503 while the oldest queued generation has waited
# longer than READY_QUEUE_SECONDS (0: not checked) or no sweeper finished a
# pass in READY_SWEEPER_SECONDS (playground/ops/health.py).
READY_QUEUE_SECONDS = envint("READY_QUEUE_SECONDS", 900, minimum=0)
READY_SWEEPER_SECONDS = envint("READY_SWEEPER_SECONDS", 60, minimum=1)
# Comma-separated terms; a prompt containing one fails with CONTENT_VIOLATION.
MODERATION_BLOCKED_TERMS = envlist("MODERATION_BLOCKED_TERMS")
# Polling upstream providers: first poll after POLL_FIRST_SECONDS, then the
# interval doubles up to POLL_MAX_SECONDS; POLL_ERROR_BUDGET consecutive poll
# errors fail the generation (its upstream task id is kept).
POLL_FIRST_SECONDS = envint("POLL_FIRST_SECONDS", 5, minimum=0)
POLL_MAX_SECONDS = envint("POLL_MAX_SECONDS", 30, minimum=1)
POLL_ERROR_BUDGET = envint("POLL_ERROR_BUDGET", 10, minimum=1)
# Largest result video copied from an upstream, in MB.
RESULT_MAX_MB = envint("RESULT_MAX_MB", 2048, minimum=1)
# The poller (manage.py poller): upstream polls in flight at once, in all and
# per provider. POLLERS is how many poller processes `make run` and
# `manage.py serve` start; 0 leaves polling to the workers, dispatched by the
# sweeper, one waiting worker per poll.
POLLERS = envint("POLLERS", 1, minimum=0)
POLLER_CAPACITY = envint("POLLER_CAPACITY", 1000, minimum=1)
POLLER_PROVIDER_CONCURRENCY = envint("POLLER_PROVIDER_CONCURRENCY", 200, minimum=1)
# The circuit breaker of each upstream provider: after this many refused
# submits or failed polls in a row, the provider is passed over for
# PROVIDER_COOLDOWN_SECONDS while another provider serves the model.
PROVIDER_BREAKER_FAILURES = envint("PROVIDER_BREAKER_FAILURES", 5, minimum=1)
PROVIDER_COOLDOWN_SECONDS = envint("PROVIDER_COOLDOWN_SECONDS", 300, minimum=1)

# The public API. Limits per API key (seed 004's defaults): requests per
# minute, counted in the cache (shared through Redis when REDIS_URL is set),
# and unfinished tasks, counted in the database.
API_REQUESTS_PER_MINUTE = envint("API_REQUESTS_PER_MINUTE", 10000, minimum=1)
API_MAX_UNFINISHED_TASKS = envint("API_MAX_UNFINISHED_TASKS", 1000, minimum=1)
# Unfinished generations one member, and one whole team, may have, from the
# API and the playground alike; 0: no limit. Counted exactly, as the key's.
API_MAX_UNFINISHED_PER_MEMBER = envint("API_MAX_UNFINISHED_PER_MEMBER", 0, minimum=0)
API_MAX_UNFINISHED_PER_TEAM = envint("API_MAX_UNFINISHED_PER_TEAM", 0, minimum=0)
# Requests that may wait for their result (Replicate's `Prefer: wait`), per
# API key, per team, and per web process. Each web process has
# API_WAITS_PER_PROCESS threads beside its WEB_THREADS for them (manage.py
# serve), so waits never take the threads other requests are served on.
API_WAITS_PER_KEY = envint("API_WAITS_PER_KEY", 2, minimum=0)
API_WAITS_PER_TEAM = envint("API_WAITS_PER_TEAM", 4, minimum=0)
API_WAITS_PER_PROCESS = envint("API_WAITS_PER_PROCESS", 4, minimum=0)
# Seconds a server process may keep an authenticated key (accounts/keycache.py);
# changes made through the app reach every process at once through Redis.
# 0 reads the key on every request.
API_KEY_CACHE_SECONDS = envint("API_KEY_CACHE_SECONDS", 60, minimum=0)
# API calls with a wrong, revoked or malformed key, counted per client
# address: past this many within the window, they are answered 429 with
# Retry-After instead of 401 until the window ends.
API_BAD_KEYS_PER_ADDRESS = envint("API_BAD_KEYS_PER_ADDRESS", 30, minimum=1)
API_BAD_KEY_WINDOW_SECONDS = envint("API_BAD_KEY_WINDOW_SECONDS", 300, minimum=1)
# Answer every API call with 455 (maintenance) while on.
MAINTENANCE_MODE = envbool("MAINTENANCE_MODE", False)
# The bearer token Prometheus sends to GET /metrics; empty: /metrics answers 404.
METRICS_TOKEN = envstr("METRICS_TOKEN")

# Uploads (POST /api/file-stream-upload, /api/file-base64-upload,
# /api/file-url-upload): size limits by type, enforced while the bytes
# arrive, and how long an upload no generation uses is kept.
UPLOAD_MAX_IMAGE_MB = envint("UPLOAD_MAX_IMAGE_MB", 10, minimum=1)
UPLOAD_MAX_VIDEO_MB = envint("UPLOAD_MAX_VIDEO_MB", 100, minimum=1)
# What an image (an upload or a generation's image input) may decode to,
# read from its header before anything decodes it: a small file may declare
# a huge picture. The local renderer takes at most 25 megapixels whatever
# this says (playground/providers/localrender/images.py).
UPLOAD_MAX_IMAGE_MEGAPIXELS = envint("UPLOAD_MAX_IMAGE_MEGAPIXELS", 25, minimum=1)
UPLOAD_MAX_IMAGE_FRAMES = envint("UPLOAD_MAX_IMAGE_FRAMES", 100, minimum=1)
UPLOAD_RETENTION_HOURS = envint("UPLOAD_RETENTION_HOURS", 24, minimum=1)


def _seconds_list(name: str, default: str, *, allow_empty: bool) -> list[float]:
    """A comma-separated list of seconds ("1,2,4"), each a positive number."""
    values = []
    for item in envlist(name, default):
        try:
            value = float(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a number of seconds") from None
        if not 0 < value < float("inf"):
            raise ImproperlyConfigured(f"{name}: {item!r} must be a positive number of seconds")
        values.append(value)
    if not values and not allow_empty:
        raise ImproperlyConfigured(f"{name} needs at least one number of seconds")
    return values


# Task callbacks and webhook events (playground/webhooks/), seed 002's policy:
# the first attempt at once, quick retries CALLBACK_QUICK_RETRIES seconds
# after the previous attempt (inline, in the worker), then background retries
# after CALLBACK_RETRY_INTERVALS seconds (the last repeats; dispatched by the
# sweeper) until CALLBACK_RETRY_WINDOW_SECONDS after the first attempt.
CALLBACK_TIMEOUT_SECONDS = envint("CALLBACK_TIMEOUT_SECONDS", 10, minimum=1)
CALLBACK_QUICK_RETRIES = _seconds_list("CALLBACK_QUICK_RETRIES", "1,2,4", allow_empty=True)
CALLBACK_RETRY_INTERVALS = _seconds_list(
    "CALLBACK_RETRY_INTERVALS", "30,60,120,300,600", allow_empty=False
)
CALLBACK_RETRY_WINDOW_SECONDS = envint("CALLBACK_RETRY_WINDOW_SECONDS", 1800, minimum=1)

# The production profile (`manage.py serve`, `make serve`): gunicorn's worker
# processes, threads per process and request timeout; how many django-q2
# clusters (each of Q_WORKERS processes) run beside it; and which roles this
# machine runs (web, worker, sweeper), so machines can be split by role.
WEB_WORKERS = envint("WEB_WORKERS", 2, minimum=1)
WEB_THREADS = envint("WEB_THREADS", 4, minimum=1)
WEB_TIMEOUT = envint("WEB_TIMEOUT", 30, minimum=1)
Q_CLUSTERS = envint("Q_CLUSTERS", 1, minimum=0)
SERVE_ROLES = envlist("SERVE_ROLES", "web,worker,sweeper,poller")

# Media (results, posters, uploads) on S3-compatible object storage when
# MEDIA_STORAGE=s3, through django-storages (`pip install -e ".[s3]"`), which
# is not a dependency of Reelgate: without it only `filesystem` works.
MEDIA_STORAGE = envstr("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE == "s3":
    from importlib.util import find_spec

    from django.core.exceptions import ImproperlyConfigured

    if find_spec("storages") is None:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs django-storages: pip install -e '.[s3]'")
    if not envstr("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": envstr("AWS_STORAGE_BUCKET_NAME"),
            # Credentials: empty means boto3's own chain (instance role, ~/.aws).
            "access_key": envstr("AWS_ACCESS_KEY_ID") or None,
            "secret_key": envstr("AWS_SECRET_ACCESS_KEY") or None,
            # Any S3-compatible service: MinIO, Cloudflare R2, Backblaze B2...
            "endpoint_url": envstr("AWS_S3_ENDPOINT_URL") or None,
            "region_name": envstr("AWS_S3_REGION_NAME") or None,
            # boto3 may sign URLs the old way (v2) in some regions, which
            # newer AWS regions and services like R2 refuse.
            "signature_version": envstr("AWS_S3_SIGNATURE_VERSION", "s3v4"),
            "location": envstr("AWS_LOCATION"),
            "custom_domain": envstr("AWS_S3_CUSTOM_DOMAIN") or None,
            # Signed URLs expire; off means the unguessable path is the
            # capability, as on the filesystem (the bucket must allow reads).
            "querystring_auth": envbool("AWS_QUERYSTRING_AUTH", True),
            "querystring_expire": envint("AWS_QUERYSTRING_EXPIRE", 3600, minimum=1),
            "file_overwrite": False,
        },
    }
elif MEDIA_STORAGE != "filesystem":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: use filesystem or s3")

# Provider kinds beyond the built-in ones (playground/providers/__init__.py):
# kind -> class path. Empty here; a settings module that imports this one may
# add some, as bench/settings.py adds the benchmark's `instant`.
PROVIDER_KINDS_EXTRA: dict[str, str] = {}

# The OpenAI videos contract (POST /v1/videos): the model used when a request
# names none (any catalog id or alias; OpenAI's SDK sends none unless asked),
# and how long the SDK's poll() waits between status calls.
OPENAI_DEFAULT_MODEL = envstr("OPENAI_DEFAULT_MODEL", "kling-v2-6")
OPENAI_POLL_AFTER_MS = envint("OPENAI_POLL_AFTER_MS", 1000, minimum=100)

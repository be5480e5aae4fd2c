"""Reelgate settings. Every value comes from an environment variable.

The README lists each variable. With nothing set, Reelgate runs on its
embedded default: SQLite in the project folder, django-q2's ORM broker and a
local-memory cache. DATABASE_URL switches to PostgreSQL and REDIS_URL to
Redis for the queue and the cache.
"""

import secrets
import tempfile
from pathlib import Path

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
# URL fields without a scheme mean https (Django 6's default, opted into now).
FORMS_URLFIELD_ASSUME_HTTPS = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

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
# plain-HTTP local install works; the README lists them for production.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0, minimum=0)
if envbool("BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
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

"""Settings come from the environment (and `.env` when present); `.env.example` lists them all.

Commands typed beside `make run` also read the `run.env` it writes (below)."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from moderation import logs, redaction

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
_environment = dict(os.environ)
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")
# `make run` writes what it chose (DEBUG, its Redis, VAR_DIR, DATABASE_URL) to VAR_DIR/run.env,
# so that commands typed in a second terminal reach the same database and Redis. Its values
# win over .env's, never over the environment's. Not read by `make run` itself (it chooses
# them), nor by `make bench` (DEBUG off), nor under READ_RUN_ENV=false (the test settings);
# the processes they start inherit that.
if sys.argv[1:2] in (["start"], ["bench"]):
    os.environ["READ_RUN_ENV"] = "false"
_run_env = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var") / "run.env"
if env.bool("READ_RUN_ENV", default=True) and _run_env.is_file():
    environ.Env.read_env(_run_env, overwrite=True)
    os.environ.update(_environment)

# Local state of `make run` and `make test`: SQLite file, embedded Redis, demo files.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)


def _required_in_production(name, dev_default, hint):
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} is not set. {hint} (or set DEBUG=true for local development)."
    )


_HOW_TO_MAKE_A_KEY = '`python -c "import secrets; print(secrets.token_urlsafe(50))"`'
SECRET_KEY = _required_in_production(
    "SECRET_KEY",
    "dev-only-insecure-secret-key-do-not-use-in-production-0123456789",
    f"Set SECRET_KEY to a long random string, e.g. the output of {_HOW_TO_MAKE_A_KEY}",
)


def _weak_secret_key(key):
    """Why Django's check --deploy would call this key weak (security.W009), or None."""
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"starts with {SECRET_KEY_INSECURE_PREFIX}, the prefix of a key made for development"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is {len(key)} characters long; it needs at least {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"has {len(set(key))} distinct characters; it needs at least "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS}"
        )
    return None


# Production refuses at start-up what `check --deploy` only warns about: a key an attacker
# could guess signs sessions, password reset links and CSRF tokens.
if not DEBUG and (_weakness := _weak_secret_key(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY {_weakness}. Set it to a long random string, e.g. the output of "
        f"{_HOW_TO_MAKE_A_KEY} (or set DEBUG=true for local development)."
    )

# A fixed key is only ever used with DEBUG on, where the data is demo data.
_DEV_CREDENTIAL_KEY = "ZGV2LW9ubHktY3JlZGVudGlhbC1rZXktMzItYnl0ZXM="
CREDENTIAL_KEYS = [
    key.strip()
    for key in _required_in_production(
        "CREDENTIAL_KEYS",
        _DEV_CREDENTIAL_KEY,
        "Set CREDENTIAL_KEYS to one or more comma-separated Fernet keys; make one with "
        '`python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"`',
    ).split(",")
    if key.strip()
]
for _position, _key in enumerate(CREDENTIAL_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"CREDENTIAL_KEYS entry {_position} is not a Fernet key (32 url-safe base64-encoded "
            "bytes, 44 characters)."
        ) from exc
if not CREDENTIAL_KEYS:
    raise ImproperlyConfigured("CREDENTIAL_KEYS is empty: give at least one Fernet key.")
redaction.remember(SECRET_KEY, *CREDENTIAL_KEYS)  # never in a log line or an error report

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    "axes",
    "moderation",
    # Tools beside the product: the vendor emulator (`manage.py vendor_emulator`, make run and
    # the tests) and the benchmarks (`manage.py bench`).
    "rtc_emulator",
    "bench",
]

MIDDLEWARE = [
    # First: every response says its X-Request-ID, every log line of the request its request_id.
    "moderation.middleware.RequestIdMiddleware",
    # Then the load balancer's /healthz, before host checks and the HTTPS redirect.
    "moderation.health.HealthCheckMiddleware",
    "moderation.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "moderation.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "moderation.middleware.ViewerTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "moderation.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its own answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login brute force: 5 failures for one username from one address lock that pair out for
# 15 minutes. Behind a proxy, AXES_IPWARE_PROXY_COUNT says how many proxies add addresses.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "lockout.html"  # styled and translated, instead of a bare sentence
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0) or None
# X-Forwarded-For is trusted only when proxies are declared; otherwise anyone could forge it.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

ROOT_URLCONF = "moderation_site.urls"
WSGI_APPLICATION = "moderation_site.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    ),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker and clock write to one file: a transaction takes the write lock at BEGIN and
    # waits up to 20 s for it, since SQLite fails at once a read that turns into a write.
    _sqlite = DATABASES["default"].setdefault("OPTIONS", {})
    _sqlite.setdefault("timeout", 20)
    _sqlite.setdefault("transaction_mode", "IMMEDIATE")
    # Django runs each ;-separated statement; the user's own come last, so theirs win.
    _sqlite["init_command"] = ";".join(
        ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", _sqlite.get("init_command", "")]
    ).rstrip(";")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
redaction.remember(DATABASES["default"].get("PASSWORD"))

# Without REDIS_URL, `make run` and `make test` start an embedded Redis and set REDIS_URL for
# their children; this default is only what a bare `manage.py` would try.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
redaction.remember(urlsplit(REDIS_URL).password)
# Moderators' actions on a few users have a queue of their own, which every worker takes first
# and one worker serves alone (Procfile): they never wait behind a bulk action's jobs.
RQ_QUEUES = {
    "moderation-interactive": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    "moderation": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
}
# Jobs run in the worker process, not a fork per job: see moderation/worker.py.
RQ = {"WORKER_CLASS": "moderation.worker.Worker"}
# django-rq's own admin page lets every staff member empty queues; ours is superusers only.
RQ_SHOW_ADMIN_LINK = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "moderation" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Times with seconds and the viewer's zone ("2026-12-01 19:05:07 CST"), in both languages.
FORMAT_MODULE_PATH = ["moderation_site.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Production is expected behind an HTTPS-terminating proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Log lines never carry a token's value, though a request line or URL may hold one (a token
# server that put it in the query string): runserver's access log (django.server),
# django.request and the console all pass moderation.accesslog.RedactSecrets (logs.py).
# Web (gunicorn's own lines too: gunicorn.conf.py), worker and clock log to standard error:
# LOG_FORMAT=plain text lines (the default) or json, one object a line with the request_id of
# a web request (also the response's X-Request-ID) or the job_id of an RQ job.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in logs.FORMATS:
    raise ImproperlyConfigured(
        f"LOG_FORMAT is {LOG_FORMAT!r}: set it to plain (the default) or json."
    )
LOGGING = logs.logging_config(LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))

# Error reports from web, worker and clock, scrubbed of secrets (moderation/sentry.py says how).
# Unset: nothing is set up. SENTRY_ENVIRONMENT and SENTRY_RELEASE are read by the SDK itself.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from moderation import sentry

    sentry.init(SENTRY_DSN)

# A vendor app's endpoint override may use plain http:// only to this machine (127.0.0.0/8, ::1,
# localhost: the vendor emulator) unless this is on, e.g. for a vendor gateway inside a private
# network. Signed requests sent in the clear can be read and replayed by anyone on the way.
ALLOW_HTTP_ENDPOINTS = env.bool("ALLOW_HTTP_ENDPOINTS", default=False)
# Vendor calls: at most the documented number per second, counted over a second plus this
# margin, which absorbs clock and network jitter between us and the vendor.
VENDOR_RATE_MARGIN_SECONDS = env.float("VENDOR_RATE_MARGIN_SECONDS", default=0.02)
# Seconds to connect to a vendor and to wait for its answer; a timeout is retried like a 5xx.
VENDOR_CONNECT_TIMEOUT_SECONDS = env.float("VENDOR_CONNECT_TIMEOUT_SECONDS", default=3.05)
VENDOR_READ_TIMEOUT_SECONDS = env.float("VENDOR_READ_TIMEOUT_SECONDS", default=10.0)
# Retries of retryable vendor failures (throttling, 5xx, timeouts): attempts in all, and the
# back-off before attempt n: min(cap, base * 2**(n-2)) seconds, with +-50 % jitter.
VENDOR_MAX_ATTEMPTS = env.int("VENDOR_MAX_ATTEMPTS", default=6)
VENDOR_RETRY_BASE_SECONDS = env.float("VENDOR_RETRY_BASE_SECONDS", default=2.0)
VENDOR_RETRY_CAP_SECONDS = env.float("VENDOR_RETRY_CAP_SECONDS", default=300.0)
# Room callbacks: a delivery signed further than this from now (by the vendor's clock, either
# way) is refused, so that a captured delivery cannot be replayed later. Within the window a
# retried delivery acts once (its event is remembered for two days), and ZEGO's signature, which
# covers only its timestamp and nonce, is accepted with the body it first came with only.
# Vendors retry for about a minute; 60 to 86400 seconds.
CALLBACK_MAX_AGE_SECONDS = env.int("CALLBACK_MAX_AGE_SECONDS", default=300)
if not 60 <= CALLBACK_MAX_AGE_SECONDS <= 86400:
    raise ImproperlyConfigured(
        f"CALLBACK_MAX_AGE_SECONDS is {CALLBACK_MAX_AGE_SECONDS}: write a number of seconds "
        "from 60 (vendors retry for about a minute) to 86400 (a day), e.g. 300."
    )
# A ban still pending this long after it was accepted is dispatched again by `reconcile`.
DISPATCH_GRACE_SECONDS = env.int("DISPATCH_GRACE_SECONDS", default=30)
# One clock reconciles this often (dispatches what Redis lost, re-applies, sweeps, prunes).
RECONCILE_SECONDS = env.float("RECONCILE_SECONDS", default=15.0)
# Workers and clocks renew a lease in Redis each fifth of this; a worker's claims on bans are
# freed this long after it stopped renewing (killed, its machine gone), and dispatched again.
LEASE_SECONDS = env.float("LEASE_SECONDS", default=5.0)
# Bans longer than the vendor's own window are re-applied this long before the window ends.
REAPPLY_MARGIN_SECONDS = env.int("REAPPLY_MARGIN_SECONDS", default=3600)
# Bans handed to one apply job; several jobs let several workers share a bulk action.
BANS_PER_JOB = env.int("BANS_PER_JOB", default=100)
# A moderator's action on at most this many users is interactive: its jobs take the interactive
# queue and its vendor calls the app's next free rate-limit slot, ahead of any bulk action's.
INTERACTIVE_MAX_USERS = env.int("INTERACTIVE_MAX_USERS", default=10)
# Ban checks answered per second and token, unless the token sets its own (`--rate`).
BAN_CHECK_RATE_PER_SECOND = env.int("BAN_CHECK_RATE_PER_SECOND", default=500)

# Only `manage.py bench` turns this on: the WSGI handler then answers /bench/noop itself, the
# web server's own floor that the ban check is measured against. Never in production.
BENCH_NOOP = env.bool("BENCH_NOOP", default=False)

# /metrics (Prometheus) answers only `Authorization: Bearer <METRICS_TOKEN>`; unset: 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, after these
# settings: web, workers and clock of one host write their counters there, /metrics adds them.
if METRICS_TOKEN and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(VAR_DIR / "prometheus")
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

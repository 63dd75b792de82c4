"""Test settings: production settings with test-only secrets and plain static files."""

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
# Two keys, so every test also exercises decryption under a key that is not the first.
os.environ.setdefault(
    "CREDENTIAL_KEYS",
    "dGVzdC1vbmx5LWNyZWRlbnRpYWwta2V5LW51bWJlcjE=,dGVzdC1vbmx5LWNyZWRlbnRpYWwta2V5LW51bWJlcjI=",
)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DEBUG", "false")
# Not the database and Redis of a `make run` that may be up beside the tests (its run.env).
os.environ["READ_RUN_ENV"] = "false"
# Nor the Sentry project of a .env: the tests that report errors bring a transport of their own.
os.environ["SENTRY_DSN"] = ""

# Redis databases of the suite's own, one per pytest-xdist process (gw0, gw1, ...), never 12,
# which the benchmarks flush.
_TEST_REDIS_DBS = (15, 14, 13, 11, 10, 9, 8, 7)
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
TEST_REDIS_DB = int(
    os.environ.get("TEST_REDIS_DB") or _TEST_REDIS_DBS[int(_xdist_worker.removeprefix("gw"))]
)
_embedded_redis = None


def _test_redis_url():
    """Like pytest-django's test_ database: REDIS_URL's server, a database of the suite's own.

    Without REDIS_URL an embedded Redis starts under var/; worker processes the tests start
    inherit its URL through the environment, and so do pytest-xdist's processes, which share
    the embedded server of the pytest that started them, each in a database of its own.
    """
    global _embedded_redis
    url = os.environ.get("REDIS_URL")
    if not url:
        from pathlib import Path

        from moderation import embedded_redis

        var = Path(os.environ.get("VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
        var.mkdir(exist_ok=True)
        # One per test run: two runs sharing a server would stop it under each other.
        _embedded_redis, url = embedded_redis.start(
            str(var / f"test-redis-{os.getpid()}.db"), keep_data=False
        )
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))
    if parts.scheme == "unix":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
        # Written out: urlunsplit drops the // of a URL without a host, which redis-py refuses.
        return f"unix://{parts.path}?{urlencode([*query, ('db', str(TEST_REDIS_DB))])}"
    return url


os.environ["REDIS_URL"] = _test_redis_url()

# One per test process, inherited by the workers it starts: their counters reach its /metrics.
# pytest-xdist's processes inherit the directory of the pytest that started them: each makes
# its own (TEST_METRICS_PROCESS says whose a directory is).
if os.environ.get("TEST_METRICS_PROCESS") != _xdist_worker or (
    "PROMETHEUS_MULTIPROC_DIR" not in os.environ
):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rtc-moderation-metrics-")
    os.environ["TEST_METRICS_PROCESS"] = _xdist_worker

from .settings import *  # noqa: E402,F403
from .settings import DATABASES, STORAGES, VAR_DIR  # noqa: E402

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Serve static files from the app folders, as runserver does: tests do not run collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Worker processes started by the tests must open the same test database: a file.
    # One per test run, so two runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

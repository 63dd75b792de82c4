"""gunicorn reads this file from the directory it starts in (the Procfile's `web`): under
LOG_FORMAT=json its own lines (start-up, workers, the access line of each request) are JSON
lines like the site's, the access line with the request's id. Otherwise gunicorn's own format."""

import os
import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BASE_DIR))

from moderation import logs  # noqa: E402


class _Env(environ.Env):
    # As settings read them (the environment, else .env), into a copy: the workers start from
    # the environment as it is, and read .env themselves.
    ENVIRON = dict(os.environ)


if (BASE_DIR / ".env").is_file():
    _Env.read_env(BASE_DIR / ".env")
_env = _Env()
if _env.str("LOG_FORMAT", default="plain") == "json":
    logconfig_dict = logs.gunicorn_logging_config("json", _env.str("LOG_LEVEL", default="INFO"))

"""Access log lines without secrets: a `token=` (or `access_token=`, any parameter named like a
token) keeps its name and loses its value, wherever a URL or a query string is written.

The ban check takes its token only from the Authorization header, but a token server may still
put one in the query string by mistake, and every access log writes the query string as it came.
Two writers are covered: gunicorn, through `GunicornLogger` (`--logger-class
moderation.accesslog.GunicornLogger`, as the Procfile starts it), and Django's own loggers
(`django.server` for runserver, `django.request`), through the `RedactSecrets` filter that
settings put on them.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from gunicorn import glogging

from .redaction import REDACTED

# A name=value pair of a query string: at the start of the text or after ?, & or ;. A value
# runs to the next separator, white space or quote (the end of a request line or a quoted
# referer in a log line); `#` is part of it, so nothing a client sent after one shows either.
_PAIR = re.compile(r"(?P<lead>^|[?&;])(?P<name>[^?&;=\s\"]+)=(?P<value>[^&;\s\"]*)")

# Headers and environ keys whose whole value is a credential.
_SECRET_ATOMS = frozenset(
    {
        "{authorization}i",
        "{proxy-authorization}i",
        "{cookie}i",
        "{set-cookie}o",
        "{http_authorization}e",
        "{http_proxy_authorization}e",
        "{http_cookie}e",
    }
)


def is_secret_parameter(name: str) -> bool:
    """True for token, access_token, refresh_token, …: compared as Django would decode it."""
    return "token" in unquote_plus(name).lower()


def redact(text: str) -> str:
    """`text` (a URL, a query string, a request line, a log line) with token values redacted."""
    if "=" not in text:
        return text

    def replace(match: re.Match) -> str:
        if not is_secret_parameter(match["name"]):
            return match[0]
        return f"{match['lead']}{match['name']}={REDACTED}"

    return _PAIR.sub(replace, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with token values redacted (Django's runserver and request
    loggers put the request line, query string included, into theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with every access log atom redacted: the request line (`%(r)s`), the
    query string (`%(q)s`), the referer (`%(f)s`), and any header or environ value
    (`%({name}i)s`, `%({name}e)s`), whichever `--access-logformat` names; Authorization and
    cookie headers are dropped whole."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: _redacted_atom(name, value) for name, value in atoms.items()}


def _redacted_atom(name: str, value):
    if name.lower() in _SECRET_ATOMS:
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    return value

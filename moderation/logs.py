"""Log lines of web, worker and clock: plain text (the default) or, under LOG_FORMAT=json, one JSON
object a line, with the request's id in web requests and the job's id inside RQ jobs.

Either way a line never holds a secret this process holds (`redaction`). settings.LOGGING and
gunicorn.conf.py (gunicorn's own lines) are both made by `logging_config`. No Django import
here: logging is configured before the apps are loaded.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from . import redaction

FORMATS = ("plain", "json")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's or a client's id may look like to be kept: a UUID, a hex or base64 token, a
# load balancer's "Root=1-..." form. Anything else (spaces, quotes, control characters, 200
# characters) could forge or break a log line, and is replaced by an id of our own.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")


def request_id_from(header: str | None) -> str:
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def logging_config(log_format: str, level: str) -> dict:
    """The dictConfig of every process (settings.LOGGING)."""
    loggers = {"django.db.backends": {"level": "WARNING"}}
    if log_format == "json":
        # Django's own handler (DEBUG only) would add a plain copy of each django.* line.
        loggers["django"] = {"handlers": [], "propagate": True}
    # runserver's access log as Django sets it up (its own format in plain mode), and every
    # line with a token parameter's value redacted.
    loggers["django.server"] = {
        "handlers": ["django.server"],
        "level": "INFO",
        "propagate": False,
    }
    loggers["django.request"] = {"filters": ["redact_secrets"]}
    server_format = "django.server" if log_format == "plain" else log_format
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": "moderation.accesslog.RedactSecrets"}},
        "formatters": {
            "plain": {"()": PlainFormatter, "fmt": PLAIN_FORMAT},
            "json": {"()": JsonFormatter},
            "django.server": {
                "()": "django.utils.log.ServerFormatter",
                "format": "[{server_time}] {message}",
                "style": "{",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["redact_secrets"],
            },
            "django.server": {
                "class": "logging.StreamHandler",
                "formatter": server_format,
                "level": "INFO",
                "filters": ["redact_secrets"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }


def gunicorn_logging_config(log_format: str, level: str) -> dict:
    """gunicorn.conf.py's: the same, gunicorn's two loggers through the same handler."""
    config = logging_config(log_format, level)
    for name in ("gunicorn.error", "gunicorn.access"):
        config["loggers"][name] = {"handlers": ["console"], "propagate": False}
    return config


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redaction.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message"}, then "request_id" or "job_id" when there is one,
    and "exception" (its traceback) when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current_request = request_id.get() or _gunicorn_access_request_id(record)
        if current_request:
            line["request_id"] = current_request
        current_job = job_id.get()
        if current_job:
            line["job_id"] = current_job
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return redaction.redact(json.dumps(line, ensure_ascii=False, default=str))


def _gunicorn_access_request_id(record: logging.LogRecord) -> str | None:
    """gunicorn writes its access line after the response has left the site's middleware: the id
    is the response's X-Request-ID header, one of the line's atoms."""
    if record.name != "gunicorn.access" or not isinstance(record.args, dict):
        return None
    value = record.args.get("{" + REQUEST_ID_HEADER.lower() + "}o")
    return value if isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value) else None

"""Error reports to Sentry when SENTRY_DSN is set: settings call `init` in every process (web,
worker, clock, commands). Without SENTRY_DSN nothing is set up and nothing is sent.

Nothing sent holds a secret. Sentry's own scrubber runs first (send_default_pii off: no cookies,
no user, no client address); `scrub` then goes over the whole event and every breadcrumb:
- a field whose name says it is a secret (`SENSITIVE`: secret, password, token, key, auth,
  cookie, session, csrf, signature, credential; in a dict, a frame's variables, a query string,
  `name=value` text or a quoted `'name': 'value'`) is replaced by "[Filtered]", and so is a
  `Bearer` or `Basic` credential;
- the values so found, and every secret this process holds (`redaction`: the vendor and
  callback secrets it encrypted or decrypted, SECRET_KEY, CREDENTIAL_KEYS, database and Redis
  passwords), are taken out of every other string, in their URL, JSON, base64 and hex forms too.
"""

from __future__ import annotations

import re

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.rq import RqIntegration
from sentry_sdk.scrubber import EventScrubber

from . import logs, redaction

FILTERED = "[Filtered]"
_NAMES = r"secret|passw|pwd|token|key|auth|cookie|session|csrf|signature|credential"
SENSITIVE = re.compile(rf"{_NAMES}|^sign$", re.IGNORECASE)
# Names that match but hold none: the Redis key a command used (the SDK leaves its values out).
NOT_SENSITIVE = {"redis.key"}
_NAME = rf"[\w.\-]*(?:{_NAMES})[\w.\-]*"
# name=value (query strings, cookie headers, "Credential=..., Signature=..." headers, log text).
_NAME_EQUALS = re.compile(rf"(?i)\b({_NAME})=([^\s&;,'\"]+)")
# 'name': 'value' and "name": "value" (reprs of dicts, JSON text).
_NAME_QUOTED = re.compile(rf"(?i)(['\"])({_NAME})\1(\s*:\s*)(['\"])(.*?)(?<!\\)\4")
# "Bearer <token>", "Basic <base64>" in text; a credential has a digit or a symbol, which keeps
# "basic usage" as it is.
_SCHEME_CREDENTIAL = re.compile(
    r"(?i)\b(bearer|basic)(\s+)((?=[\w.~+/=\-]*[0-9.~+/=_\-])[\w.~+/=\-]{8,})"
)
# Parts of an event that hold no data of ours, left as they are: the SDK and the installed
# packages (a package named "keyring" keeps its version), and a stack frame's place and source
# lines, read from disk (its variables are scrubbed).
_EVENT_LEFT_ALONE = {"sdk", "modules", "debug_meta", "_meta"}
_FRAME_LEFT_ALONE = {"pre_context", "context_line", "post_context", "abs_path", "filename"}
_FRAME_LEFT_ALONE |= {"module", "function"}


def init(dsn: str, **options) -> None:
    """`options` for tests (a transport that keeps what would be sent)."""
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), RqIntegration()],
        send_default_pii=False,
        event_scrubber=EventScrubber(recursive=True),
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        **options,
    )


def before_send(event, hint):
    scrub(event)
    tags = event.setdefault("tags", {})
    if isinstance(tags, dict):  # the same ids as the log lines of this request or job
        for name, value in (("request_id", logs.request_id.get()), ("job_id", logs.job_id.get())):
            if value:
                tags[name] = value
    return event


def before_breadcrumb(crumb, hint):
    scrub(crumb)
    return crumb


def scrub(data: dict) -> dict:
    """Takes the secrets out of `data` (an event or a breadcrumb), in place."""
    found: set[str] = set()
    _filter_fields(data, found, _EVENT_LEFT_ALONE)
    found = {v for v in found if len(v) >= redaction.MIN_LENGTH} - {FILTERED, redaction.REDACTED}
    _replace_strings(data, redaction.longest_first(found), _EVENT_LEFT_ALONE)
    return data


def _left_alone(node: dict) -> set[str]:
    is_frame = "lineno" in node and ("function" in node or "context_line" in node)
    return _FRAME_LEFT_ALONE if is_frame else set()


def _filter_fields(node, found: set[str], left_alone: set[str] = frozenset()) -> None:
    if isinstance(node, dict):
        left_alone = left_alone or _left_alone(node)
        for key in list(node):
            if key in left_alone:
                continue
            if isinstance(key, str) and SENSITIVE.search(key) and key not in NOT_SENSITIVE:
                _collect(node[key], found)
                node[key] = FILTERED
            else:
                _filter_fields(node[key], found)
    elif isinstance(node, list | tuple):
        for item in node:
            _filter_fields(item, found)
    elif isinstance(node, str):
        _collect_from_text(node, found)


def _collect(value, found: set[str]) -> None:
    """Every string under a sensitive field, and the values in it: a Cookie header's, a query
    string's, a Bearer credential's."""
    if isinstance(value, str):
        found.add(value)
        _collect_from_text(value, found)
        for pair in re.split(r"[;&]\s*", value):  # a Cookie header, a query string
            found.add(pair.partition("=")[2])
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def _collect_from_text(text: str, found: set[str]) -> None:
    found.update(match.group(2) for match in _NAME_EQUALS.finditer(text))
    found.update(match.group(5) for match in _NAME_QUOTED.finditer(text))
    found.update(match.group(3) for match in _SCHEME_CREDENTIAL.finditer(text))


def _replace_strings(node, forms: tuple[str, ...], left_alone: set[str] = frozenset()):
    if isinstance(node, dict):
        left_alone = left_alone or _left_alone(node)
        for key in list(node):
            if key not in left_alone:
                node[key] = _replace_strings(node[key], forms)
        return node
    if isinstance(node, list):
        return [_replace_strings(item, forms) for item in node]
    if isinstance(node, tuple):
        return tuple(_replace_strings(item, forms) for item in node)
    if isinstance(node, str):
        return _clean_text(node, forms)
    # Numbers, and in a breadcrumb not yet serialized its timestamp and any object: the event
    # that sends the breadcrumb scrubs it again, serialized (objects as their repr).
    return node


def _clean_text(text: str, forms: tuple[str, ...]) -> str:
    text = redaction.redact(text, also=forms)
    text = _NAME_EQUALS.sub(lambda m: f"{m.group(1)}={FILTERED}", text)
    text = _NAME_QUOTED.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{FILTERED}{m[4]}", text)
    return _SCHEME_CREDENTIAL.sub(lambda m: f"{m[1]}{m[2]}{FILTERED}", text)

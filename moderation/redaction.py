"""The secrets this process holds, and text with them taken out: for log lines and error reports.

Every vendor secret and callback secret passes through `credentials` on its way in (encrypt) or
out (decrypt), which remembers it here; settings add SECRET_KEY, CREDENTIAL_KEYS and the
database's password. A secret this process never held cannot be in its memory, nor in a line it
logs or an exception it reports. Nothing here is stored or sent anywhere.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import quote

REDACTED = "[redacted]"
# Shorter strings would take ordinary words out of log lines; no secret we hold is this short.
MIN_LENGTH = 8

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern | None = None


def remember(*secrets: str | None) -> None:
    global _pattern
    new = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_LENGTH} - _secrets
    if not new:
        return
    with _lock:
        _secrets.update(new)
        _pattern = None


def forget_all() -> None:
    """For tests: as in a process that has not read any secret yet."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def forms(secret: str) -> set[str]:
    """The secret as it is, and as an encoder would leave it in a URL, JSON, base64 or hex."""
    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    found = {
        secret,
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        raw.hex(),
        raw.hex().upper(),
        *encoded,
        *(form.rstrip("=") for form in encoded),
    }
    return {form for form in found if len(form) >= MIN_LENGTH}


def _compiled() -> re.Pattern | None:
    global _pattern
    if _pattern is not None or not _secrets:  # every log line asks: the lock only to build it
        return _pattern
    with _lock:
        if _pattern is None and _secrets:
            every = {form for secret in _secrets for form in forms(secret)}
            # Longest first, so that a secret containing another is taken out whole.
            ordered = sorted(every, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(form) for form in ordered))
        return _pattern


def longest_first(secrets) -> tuple[str, ...]:
    """Each secret's forms, longest first, for `redact(also=...)`: made once for many texts."""
    return tuple(
        form for secret in secrets for form in sorted(forms(secret), key=len, reverse=True)
    )


def redact(text: str, also: tuple[str, ...] = ()) -> str:
    """`text` without any secret this process holds, in any of their forms, nor the forms in
    `also` (`longest_first` of other secrets)."""
    pattern = _compiled()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for form in also:
        text = text.replace(form, REDACTED)
    return text

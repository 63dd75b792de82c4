"""Canary secrets, and everything they must never be found in.

A canary is a vendor secret (or callback secret) made up for one test run. `Search` collects
what the system produced (pages, log lines, exceptions, worker output), adds the database and
Redis, and reports every place a canary shows up, in any of the forms a careless encoder
would leave it in.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from django.apps import apps


def make_canaries() -> dict[str, str]:
    """Secrets each vendor accepts in form, different on every run."""
    tag = secrets.token_hex(6)
    return {
        "volcengine": f"CanaryVolcSecret{tag}",
        "zego": secrets.token_hex(16),  # a ServerSecret is 32 hexadecimal characters
        "tencent": f"CanaryTencentSecretKey{tag}",
        "volcengine_callback": f"CanaryVolcCallback{tag}",
        "zego_callback": f"CanaryZegoCallback{tag}",
        "tencent_callback": f"CnryTencentCb{tag}",  # letters and digits, at most 32
    }


def _forms(value: str) -> set[bytes]:
    raw = value.encode()
    return {
        raw,
        quote(value, safe="").encode(),
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        raw.hex().encode(),
        json.dumps(value).encode()[1:-1],
    }


@dataclass
class Search:
    canaries: dict[str, str]
    places: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, where: str, content) -> None:
        if content is None:
            return
        if isinstance(content, str):
            content = content.encode("utf-8", "backslashreplace")
        self.places.append((where, bytes(content)))

    def page(self, where: str, response) -> None:
        """A response: its body and every header (Set-Cookie carries the messages)."""
        body = b"".join(response.streaming_content) if response.streaming else response.content
        self.add(f"page {where} (body)", body)
        self.add(f"page {where} (headers)", repr(list(response.items())))
        self.add(f"page {where} (cookies)", response.cookies.output())

    def exception(self, where: str, exc: BaseException) -> None:
        import traceback

        self.add(f"exception {where}", "".join(traceback.format_exception(exc)))
        self.add(f"exception {where} (repr)", repr(exc) + repr(getattr(exc, "args", ())))

    def log_records(self, records) -> None:
        for record in records:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                import traceback

                text += "".join(traceback.format_exception(record.exc_info[1]))
            text += repr(getattr(record, "args", ()))
            self.add(f"log {record.name}:{record.lineno}", text)

    def database(self) -> int:
        """Every row of every table the project's models and Django's own apps have."""
        rows = 0
        for model in apps.get_models():
            if not model._meta.managed or model._meta.proxy:
                continue  # no table of its own (django-rq's dashboard models)
            for row in model._default_manager.all().values_list():
                self.add(f"database {model._meta.label}", repr(row))
                rows += 1
        return rows

    def redis(self, connection) -> int:
        """Every value in this Redis database, raw and (RQ's job data) decompressed."""
        keys = 0
        for key in connection.scan_iter(count=1000):
            keys += 1
            where = f"redis {key.decode(errors='replace')}"
            self.add(where, key)
            dumped = connection.dump(key)
            self.add(f"{where} (DUMP)", dumped)
            for value in _values(connection, key):
                self.add(where, value)
                with contextlib.suppress(zlib.error, TypeError):
                    self.add(f"{where} (zlib)", zlib.decompress(value))
        return keys

    def hits(self) -> list[str]:
        found = []
        for name, value in self.canaries.items():
            for form in _forms(value):
                for where, content in self.places:
                    at = content.find(form)
                    if at >= 0:
                        context = content[max(0, at - 60) : at + len(form) + 60]
                        found.append(f"{name} canary in {where}: …{context!r}…")
        return found


def _values(connection, key) -> list[bytes]:
    kind = connection.type(key)
    if kind == b"string":
        return [connection.get(key) or b""]
    if kind == b"hash":
        return [part for pair in connection.hgetall(key).items() for part in pair]
    if kind == b"list":
        return connection.lrange(key, 0, -1)
    if kind == b"set":
        return list(connection.smembers(key))
    if kind == b"zset":
        return [member for member, _ in connection.zrange(key, 0, -1, withscores=True)]
    if kind == b"stream":
        return [repr(entry).encode() for entry in connection.xrange(key)]
    return []


class EchoingVendor:
    """A vendor (or a proxy in front of one) whose error message repeats the secret it was
    given: what the vendor layer's redaction is for. Answers each vendor in its envelope."""

    def __init__(self, echoed: dict[str, str]):
        self.echoed = echoed
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.answer()

            def answer(self):
                vendor = self.path.strip("/").split("/")[0].split("?")[0]
                body = json.dumps(owner.envelope(vendor)).encode()
                self.send_response(200 if vendor != "volcengine" else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def envelope(self, vendor: str) -> dict:
        message = f"signature mismatch: the key {self.echoed.get(vendor, '')} is not valid"
        if vendor == "volcengine":
            error = {"Code": "SignatureDoesNotMatch", "Message": message}
            return {"ResponseMetadata": {"RequestId": "echo-1", "Error": error}}
        if vendor == "zego":
            return {"Code": 100000004, "Message": message, "RequestId": "echo-2"}
        error = {"Code": "AuthFailure.SignatureFailure", "Message": message}
        return {"Response": {"RequestId": "echo-3", "Error": error}}

    def endpoint(self, vendor: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{vendor}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()

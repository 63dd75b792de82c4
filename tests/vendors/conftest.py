"""Real HTTP for the vendor clients: the project's vendor emulator, and a server of canned answers
for bodies no vendor (nor the emulator) sends on purpose: HTML error pages, unknown codes."""

import json
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from moderation.vendors import AppConnection, client_for

# Canaries: each must never show up in a result, a log line or an exception.
VOLCENGINE = {
    "vendor": "volcengine",
    "app_id": "661e0000543cf",
    "access_key_id": "AKLTdGVzdC1hY2Nlc3Mta2V5",
    "secret": "CANARY-volcengine-secret-7f3a",
}
ZEGO = {"vendor": "zego", "app_id": "1234567890", "secret": "CANARY0zego0secret0d41d8cd98f00b2"}
TENCENT = {
    "vendor": "tencent",
    "app_id": "1400000001",
    "access_key_id": "AKIDtestSecretId0000",
    "secret": "CANARY-tencent-secret-9c1e",
}
APPS = {"volcengine": VOLCENGINE, "zego": ZEGO, "tencent": TENCENT}
REGIONS = {"volcengine": "cn-north-1", "zego": "", "tencent": "ap-guangzhou"}
# Short enough for a test, long enough for a loaded machine's loopback.
FAST_TIMEOUT = (2.0, 0.5)


@pytest.fixture(scope="session")
def running_emulator():
    from rtc_emulator import Emulator

    emu = Emulator()
    for app in APPS.values():
        emu.add_app(**app)
    emu.start(host="127.0.0.1", port=0)
    yield emu
    emu.stop()


@pytest.fixture
def emu(running_emulator):
    running_emulator.reset()
    yield running_emulator
    running_emulator.reset()


def connection(vendor, endpoint="", **changes):
    app = {**APPS[vendor], "region": REGIONS[vendor], "endpoint": endpoint, **changes}
    return AppConnection(**app)


@pytest.fixture
def client(emu):
    """client(vendor, **changes): a client of the emulator's app, with any field changed."""
    made = []

    def make(vendor, *, timeout=FAST_TIMEOUT, **changes):
        made.append(
            client_for(connection(vendor, emu.endpoint(vendor), **changes), timeout=timeout)
        )
        return made[-1]

    yield make
    for each in made:
        each.close()


class CannedServer:
    """Answers each request with the next canned (status, body, content type); records them."""

    def __init__(self):
        self.answers = deque()
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status, body, content_type, headers = outer.answers.popleft()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, prefix=""):
        return f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"

    def answer(self, status, body, content_type="application/json", headers=None):
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.answers.append((status, body, content_type, headers or {}))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned():
    server = CannedServer()
    yield server
    server.stop()


@pytest.fixture
def closed_port_url():
    """A URL on which nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"

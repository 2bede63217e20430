"""A local HTTP server for the download tests: files served from memory on 127.0.0.1, with scripted failures.

Tests never touch the internet: they point the real download code at this server. Requests for GEO's
``acc.cgi?acc=GSM1&...`` are routed by path and ``acc`` (``/geo/query/acc.cgi?acc=GSM1``); anything unknown is 404.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest


@dataclass
class Route:
    body: bytes
    status: int = 200
    fail_first: int = 0  # answer 503 to this many requests first
    truncate_first: int = 0  # announce the full Content-Length but send half the body, this many times
    served: int = 0


class LocalServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server._answer(self)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def add(self, path: str, body: bytes | str, **behaviour) -> str:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, **behaviour)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, fragment: str = "") -> int:
        """Requests so far whose path contains ``fragment``."""
        with self._lock:
            return sum(fragment in request for request in self.requests)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(handler.path)
        accession = parse_qs(parsed.query).get("acc", [None])[0]
        key = parsed.path + (f"?acc={accession}" if accession else "")
        with self._lock:
            self.requests.append(key)
            route = self.routes.get(key)
            attempt = route.served if route else 0
            if route:
                route.served += 1
        if route is None:
            handler.send_error(404, "Not Found")
        elif attempt < route.fail_first:
            handler.send_error(503, "Service Unavailable")
        elif route.status != 200:
            handler.send_error(route.status)
        else:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(route.body)))
            handler.end_headers()
            truncated = attempt - route.fail_first < route.truncate_first
            handler.wfile.write(route.body[: len(route.body) // 2] if truncated else route.body)
            handler.close_connection = True

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def http_server():
    server = LocalServer()
    yield server
    server.close()

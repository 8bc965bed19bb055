"""A small local HTTP(S) server for the cloud SDKs to talk to in tests.

Routes are (method, path regex) -> handler(request) -> (status, json body). Every
request is recorded as "METHOD /path" (query string left off; kept in `queries`),
and `fail_next` makes the next matching requests answer with an error status first.
Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    match: re.Match[str]


#: a handler answers (status, JSON body) or (status, JSON body, extra headers)
Handler = Callable[[Request], tuple[Any, ...]]


@dataclass
class FakeServer:
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    failures: list[tuple[str, int, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(pattern + "$"), handler))
            return handler

        return register

    def fail_next(self, call: str, status: int, body: Any = None, times: int = 1) -> None:
        """The next `times` requests whose "METHOD /path" matches `call` get `status`."""
        self.failures.extend([(call, status, body)] * times)

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()
            self.queries.clear()
            self.headers.clear()

    def answer(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[Any, ...]:
        parts = urlsplit(raw_path)
        call = f"{method} {parts.path}"
        with self.lock:
            self.calls.append(call)
            self.queries.append(parse_qs(parts.query))
            self.headers.append(headers)
            for index, (pattern, status, body) in enumerate(self.failures):
                if re.fullmatch(pattern, call):
                    del self.failures[index]
                    return status, body or {"error": {"code": status, "message": "injected"}}
            for route_method, pattern, handler in self.routes:
                match = pattern.match(parts.path)
                if route_method == method and match:
                    body = json.loads(raw) if raw.strip() else None
                    request = Request(
                        method, parts.path, parse_qs(parts.query), headers, body, match
                    )
                    return handler(request)
        return 404, {"error": {"code": 404, "message": f"no route for {call}"}}


def _handler_class(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, *extra = server.answer(self.command, self.path, headers, raw)
            raw_body = isinstance(body, bytes)
            data = body if raw_body else b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml" if raw_body else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


@contextmanager
def serving(server: FakeServer, tls: ssl.SSLContext | None = None) -> Iterator[FakeServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(server))
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    server.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="fake-cloud", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

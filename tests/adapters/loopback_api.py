"""A loopback HTTP server standing in for a slow API server: every request is answered
after `delay` seconds with `{}`; it records when each came and how many were in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from seal.adapters.kubeconfig import ClusterConnection


@dataclass
class Seen:
    delay: float
    in_flight: int = 0
    max_in_flight: int = 0
    arrivals: list[tuple[float, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


#: what the server answers to (method, path and query): a status and a JSON body
Answer = Callable[[str, str], tuple[int, bytes]]


def _created(method: str, path: str) -> tuple[int, bytes]:
    return (201 if method == "POST" else 200), b"{}"


@contextmanager
def slow_api(
    delay: float, answer: Answer = _created, headers: dict[str, str] | None = None
) -> Iterator[tuple[ClusterConnection, Seen]]:
    """`headers` are sent with every answer."""
    seen = Seen(delay)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with seen.lock:
                seen.arrivals.append((time.monotonic(), self.command, self.path))
                seen.in_flight += 1
                seen.max_in_flight = max(seen.max_in_flight, seen.in_flight)
            time.sleep(seen.delay)
            with seen.lock:
                seen.in_flight -= 1
            status, body = answer(self.command, self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ClusterConnection(server=f"http://127.0.0.1:{server.server_address[1]}"), seen
    finally:
        server.shutdown()
        server.server_close()

"""Keep-alive HTTP/1.1 to one API server, at a fraction of a general client's cost.

A kill is one DELETE, so a large kill is as fast as the requests are cheap. This
transport writes each request in one `sendall` and reads the answer with a small
parser (status line, headers, a body by Content-Length or chunked), over pooled
connections (TLS or plain) that are checked before reuse. Streams (watches) and
API servers behind a proxy use urllib3 instead (seal/adapters/kube_http.py).

A connection that the server closed while it was idle is noticed before reuse; when
one closes under a request before any byte of the answer came back, an idempotent
request is sent again once, on a new connection.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

#: an idle connection older than this is closed instead of reused (servers and load
#: balancers drop idle connections after a while; reusing one then fails the request)
MAX_IDLE_SECONDS = 30.0
#: bounds of what an answer may hold before the connection is dropped as broken
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
_CHUNK = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class TransportError(Exception):
    """The request could not be made or its answer could not be read."""


class Headers(dict[str, str]):
    """Answer headers; names are looked up without regard to case."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    data: bytes


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is: scheme, host, port, the path its API is under."""

    tls: bool
    host: str
    port: int
    base_path: str
    host_header: str

    @classmethod
    def parse(cls, server: str) -> Endpoint:
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {server!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        return cls(tls, parts.hostname, port, parts.path.rstrip("/"), parts.netloc)


def tls_context(
    *,
    insecure: bool,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
) -> ssl.SSLContext:
    """The TLS settings of a kubeconfig's cluster and user."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


class _Connection:
    """One socket and what has been read from it but not yet used."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.idle_since = time.monotonic()
        self.used = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def still_open(self) -> bool:
        """Idle, not too old, and nothing to read (a readable idle connection has been
        closed by the server, or holds bytes no request asked for)."""
        if self.buffer or time.monotonic() - self.idle_since > MAX_IDLE_SECONDS:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def _fill(self) -> bool:
        """Read what the socket has into the buffer; False at its end."""
        chunk = self.sock.recv(_CHUNK)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_head(self) -> tuple[int, str, Headers]:
        """The status line and headers of the next answer."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise TransportError("the answer's headers are too long")
            if not self._fill():
                raise _ClosedEarly() if not self.buffer else TransportError(
                    "the connection closed in the middle of the answer's headers"
                )
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise TransportError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        if len(lines) > MAX_HEADERS:
            raise TransportError("the answer has too many headers")
        headers = Headers()
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise TransportError(f"a malformed header line: {line[:80]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return int(code), version, headers

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise TransportError("the connection closed in the middle of the answer")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise TransportError("a chunk header is too long")
            if not self._fill():
                raise TransportError("the connection closed in the middle of the answer")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = self.read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise TransportError(f"a malformed chunk size: {size_text[:20]!r}") from None
            if size == 0:
                while self.read_line():  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self.read_exactly(size))
            self.read_exactly(2)

    def read_to_end(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class _ClosedEarly(TransportError):
    """The connection ended before any byte of the answer."""


class ApiTransport:
    """Pooled keep-alive connections to one API server; safe to share between threads.
    Connections are made as needed; the caller bounds how many requests are in flight
    (and so how many connections there are)."""

    def __init__(
        self,
        server: str,
        *,
        context: ssl.SSLContext | None,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.endpoint = Endpoint.parse(server)
        if self.endpoint.tls and context is None:
            raise ValueError("an https server needs a TLS context")
        self._context = context
        self._server_hostname = server_hostname or self.endpoint.host
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._idle: list[_Connection] = []
        self.connections_made = 0

    def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        *,
        idempotent: bool = False,
    ) -> Answer:
        """Send `method target` (a path with its query) and read the whole answer.
        `TransportError` when it cannot be made or read."""
        head = self._head(method, target, headers, body)
        message = head + body if body else head
        for attempt in (1, 2):
            connection = self._take(fresh=attempt == 2)
            try:
                answer, reusable = self._exchange(connection, method, message)
            except _ClosedEarly as exc:
                connection.close()
                if connection.used and idempotent and attempt == 1:
                    continue  # the server had closed it: once more, on a new one
                raise TransportError(
                    f"the API server closed the connection without answering: {exc}"
                ) from exc
            except (OSError, TransportError) as exc:
                connection.close()
                if isinstance(exc, TransportError):
                    raise
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
            if reusable:
                self._give_back(connection)
            else:
                connection.close()
            return answer
        raise TransportError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # ---------------------------------------------------------------- the parts
    def _head(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes | None
    ) -> bytes:
        lines = [f"{method} {self.endpoint.base_path}{target} HTTP/1.1"]
        lines.append(f"Host: {self.endpoint.host_header}")
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise TransportError(f"the header {name} holds a line break")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _exchange(
        self, connection: _Connection, method: str, message: bytes
    ) -> tuple[Answer, bool]:
        connection.sock.sendall(message)
        status, version, headers = connection.read_head()
        while 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            status, version, headers = connection.read_head()
        reusable = version != "HTTP/1.0" and "close" not in (headers.get("connection") or "")
        if method == "HEAD" or status in _NO_BODY_STATUSES:
            data = b""
        elif "chunked" in (headers.get("transfer-encoding") or "").lower():
            data = connection.read_chunked()
        elif (length := headers.get("content-length")) is not None:
            if not length.isdigit():
                raise TransportError(f"a malformed Content-Length: {length[:20]!r}")
            data = connection.read_exactly(int(length))
        else:
            data, reusable = connection.read_to_end(), False
        connection.used = True
        return Answer(status, headers, data), reusable

    def _take(self, *, fresh: bool) -> _Connection:
        if not fresh:
            while True:
                with self._lock:
                    connection = self._idle.pop() if self._idle else None
                if connection is None:
                    break
                if connection.still_open():
                    return connection
                connection.close()
        return self._connect()

    def _connect(self) -> _Connection:
        endpoint = self.endpoint
        try:
            sock = socket.create_connection(
                (endpoint.host, endpoint.port), timeout=self._connect_timeout
            )
        except OSError as exc:
            raise TransportError(
                f"cannot connect to {endpoint.host}:{endpoint.port}: {exc}"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self._read_timeout)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_hostname=self._server_hostname)
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise TransportError(f"TLS with {endpoint.host}:{endpoint.port} failed: {exc}") from exc
        with self._lock:
            self.connections_made += 1
        return _Connection(sock)

    def _give_back(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            self._idle.append(connection)

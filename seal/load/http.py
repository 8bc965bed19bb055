"""A small HTTP/1.1 client on asyncio streams, for the load generator: one kept-alive
connection per simulated user, the request's bytes built once.

Cheaper per request than a general-purpose client (a load generator must not be the
bottleneck), and enough for it: http and https, an answer's body by Content-Length,
chunked or until the connection closes. Proxies are not used.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from seal.errors import SealError

#: the longest status line and headers of an answer
_HEAD_LIMIT = 64 * 1024
#: statuses whose answers have no body
_NO_BODY = (204, 304)


class Target:
    """Where requests go and the bytes of the request, built once from a URL."""

    def __init__(
        self, method: str, url: str, headers: tuple[tuple[str, str], ...], body: str | None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SealError(f"background load: {url!r} is not an http:// or https:// URL")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.head_only = method.upper() == "HEAD"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        payload = (body or "").encode()
        lines = [f"{method.upper()} {path} HTTP/1.1", f"Host: {host}", "User-Agent: seal-load"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body is not None or method.upper() in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(payload)}")
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class Connection:
    """One user's connection, opened when first needed and again after a failure."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self) -> int:
        """Send the request, read the whole answer; its status. Raises `OSError`,
        `asyncio.IncompleteReadError`, `ValueError` (a malformed answer) and the like;
        the connection is closed then, and opened again by the next call."""
        try:
            return await self._exchange()
        except BaseException:
            self.close()
            raise

    async def _exchange(self) -> int:
        target = self.target
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(
                target.host,
                target.port,
                ssl=target.tls,
                server_hostname=target.host if target.tls else None,
                limit=_HEAD_LIMIT,
            )
        reader, writer = self._reader, self._writer
        writer.write(target.request)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if target.head_only or status in _NO_BODY or 100 <= status < 200:
            pass
        elif b"chunked" in headers.get(b"transfer-encoding", b""):
            await _read_chunked(reader)
        elif b"content-length" in headers:
            await reader.readexactly(int(headers[b"content-length"]))
        else:
            await reader.read()  # the body ends with the connection
            self.close()
        if headers.get(b"connection") == b"close":
            self.close()
        return status

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                pass
            return
        await reader.readexactly(size + 2)

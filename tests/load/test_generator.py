"""The load generator against HTTP servers on loopback that the test runs: the rate it
holds, the requests it sends, every framing of an answer, and what counts as an error."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from seal.errors import SealError
from seal.load.generator import LoadGenerator, LoadRequest
from seal.outcomes import LoadReport

Answer = Callable[[bytes], bytes]


class RawServer:
    """An asyncio server on loopback answering each request with `answer(request)`;
    it keeps every request it read."""

    def __init__(self, answer: Answer, close_after: bool = False) -> None:
        self.answer, self.close_after = answer, close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10)

    def _main(self, ready: threading.Event) -> None:
        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                writer.write(self.answer(request))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/items?page=2"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def servers() -> Iterator[list[RawServer]]:
    started: list[RawServer] = []
    yield started
    for server in started:
        server.stop()


def run(request: LoadRequest, users: int, rate: float, seconds: float) -> LoadReport:
    generator = LoadGenerator(request, users, rate)
    generator.start()
    time.sleep(seconds)
    return generator.stop()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def test_the_rate_is_held_and_requests_are_as_asked(servers: list[RawServer]) -> None:
    server = RawServer(lambda _: OK)
    servers.append(server)
    report = run(
        LoadRequest("post", server.url, (("X-Chaos", "seal"),), '{"n": 1}', 1.0), 4, 100, 2.0
    )
    assert report.errors == 0
    assert 180 <= report.requests <= 215
    assert report.achieved_rate == pytest.approx(100, rel=0.12)
    assert server.connections == 4  # one kept-alive connection per user
    first = server.requests[0]
    assert first.startswith(b"POST /items?page=2 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in first
    assert b"X-Chaos: seal\r\n" in first and first.endswith(b'Content-Length: 8\r\n\r\n{"n": 1}')
    assert [s.t for s in report.seconds][:2] == [0, 1]
    assert all(70 <= s.requests <= 130 for s in report.seconds[:2]), report.seconds


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ],
    ids=["chunked", "no-body", "connection-close"],
)
def test_every_framing_of_an_answer_is_read_whole(servers: list[RawServer], answer: bytes) -> None:
    server = RawServer(lambda _: answer)
    servers.append(server)
    report = run(LoadRequest("get", server.url), 2, 40, 1.0)
    assert report.errors == 0 and report.requests >= 30
    # a reply read whole leaves the connection usable (unless the server closes it)
    closes = b"Connection: close" in answer
    assert (server.connections > 10) if closes else server.connections == 2


def test_a_body_ending_with_the_connection(servers: list[RawServer]) -> None:
    server = RawServer(lambda _: b"HTTP/1.0 200 OK\r\n\r\nall of it", close_after=True)
    servers.append(server)
    report = run(LoadRequest("get", server.url), 1, 20, 1.0)
    assert report.errors == 0 and report.requests >= 15 and server.connections >= 15


def test_statuses_of_400_and_more_timeouts_and_refusals_are_errors(
    servers: list[RawServer],
) -> None:
    turn = iter(range(10**6))
    server = RawServer(
        lambda _: OK if next(turn) % 2 else b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    )
    servers.append(server)
    half = run(LoadRequest("get", server.url), 1, 50, 1.0)
    assert half.errors == pytest.approx(half.requests / 2, abs=1)

    silent = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    threading.Thread(target=silent.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{silent.server_address[1]}/"
        slow = run(LoadRequest("get", url, timeout_seconds=0.2), 2, 10, 1.0)
    finally:
        silent.shutdown()
        silent.server_close()
    assert slow.requests >= 4 and slow.errors == slow.requests
    assert slow.p50 is not None and 190 <= slow.p50 <= 400

    refused = run(LoadRequest("get", "http://127.0.0.1:9/"), 1, 20, 0.5)
    assert refused.requests >= 5 and refused.errors == refused.requests


class _Silent(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(1)

    def log_message(self, *args: object) -> None:
        pass


def test_bad_settings_are_refused_with_a_message() -> None:
    with pytest.raises(SealError, match="users >= 1 and rate > 0"):
        LoadGenerator(LoadRequest("get", "http://127.0.0.1:9/"), 0, 10)
    with pytest.raises(SealError, match="'ftp://x' is not an http:// or https:// URL"):
        LoadGenerator(LoadRequest("get", "ftp://x"), 1, 10)

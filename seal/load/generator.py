"""The load generator: `users` simulated users on an asyncio event loop in a thread of its
own, sending HTTP requests at a steady rate (`seal.load.http`: a kept-alive connection
each), every request's end recorded in `LoadStats`.

Each user sends one request at a time (a user waits for its answer, as a person does)
on its own schedule, `users / rate` seconds apart; a user that falls behind sends at
once, catching up at most one second of its schedule. An answer with a status of 400
or more, a connection that fails and a request that times out are errors. Proxies
from the environment are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from seal.errors import SealError
from seal.frozen import frozen
from seal.load.http import Connection, Target
from seal.load.stats import LoadStats
from seal.outcomes import LoadReport

log = logging.getLogger(__name__)

#: how long the load's thread may take to start its event loop
_START_SECONDS = 10.0


@frozen
class LoadRequest:
    """The request every user sends."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    timeout_seconds: float = 1.0


class LoadGenerator:
    """Start it, read its `stats` while it runs, stop it for its report."""

    def __init__(
        self,
        request: LoadRequest,
        users: int,
        rate: float,
        *,
        keep_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if users < 1 or rate <= 0:
            raise SealError(f"background load needs users >= 1 and rate > 0 (got {users}, {rate})")
        self.request = request
        self._target = Target(request.method, request.url, request.headers, request.body)
        self.users = users
        self.rate = rate
        self._clock = clock
        self._keep = keep_seconds
        self.stats = LoadStats(clock(), keep_seconds)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._report: LoadReport | None = None

    def start(self) -> None:
        """Start the users in a thread of their own; return once they are on their way."""
        self.stats = LoadStats(self._clock(), self._keep)
        self._thread = threading.Thread(target=self._main, name="seal-load", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_SECONDS) or not self._thread.is_alive():
            raise SealError("the background load could not start its event loop")

    def stop(self) -> LoadReport:
        """Stop every user (requests in flight are dropped) and report what they did."""
        if self._report is not None:
            return self._report
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stop.set)
            thread.join(self.request.timeout_seconds + 10)
            if thread.is_alive():
                log.warning("the background load's thread did not end within its bound")
        self._report = self.stats.report(self.request.url, self.users, self.rate, self._clock())
        return self._report

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        finally:
            self._ready.set()  # also when the loop could not start: start() must not wait

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        target = self._target
        interval = self.users / self.rate
        spread = interval / self.users  # the users' first requests, spread over one interval
        start = self._clock()
        connections = [Connection(target) for _ in range(self.users)]
        users = [
            asyncio.create_task(self._user(connection, start + i * spread, interval))
            for i, connection in enumerate(connections)
        ]
        self._ready.set()
        await self._stop.wait()
        for user in users:
            user.cancel()
        await asyncio.gather(*users, return_exceptions=True)
        for connection in connections:
            connection.close()

    async def _user(self, connection: Connection, first: float, interval: float) -> None:
        due = first
        while True:
            now = self._clock()
            if due > now:
                await asyncio.sleep(due - now)
            elif due < now - 1.0:
                due = now - 1.0  # fallen far behind: catch up one second, no more
            await self._send(connection)
            due += interval

    async def _send(self, connection: Connection) -> None:
        started = self._clock()
        try:
            async with asyncio.timeout(self.request.timeout_seconds):
                error = await connection.send() >= 400
        except (TimeoutError, OSError, EOFError, ValueError, asyncio.LimitOverrunError):
            error = True  # IncompleteReadError is an EOFError
        ended = self._clock()
        self.stats.record(ended, ended - started, error)

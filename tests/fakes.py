"""Test doubles for seal's injected services: a clock that does not really sleep."""

from __future__ import annotations

import datetime as dt

from seal.errors import ShutdownRequested


class FakeClock:
    """A `seal.clock.Clock` whose sleeps advance time at once and are recorded."""

    def __init__(self, start: float = 1_700_000_000.0, local: dt.datetime | None = None) -> None:
        self.time = start
        self.start = start
        self.local_start = local or dt.datetime(2026, 11, 23, 12, 0, 0)
        self.slept: list[float] = []
        self.shutdown_after: int | None = None

    def now(self) -> float:
        return self.time

    def monotonic(self) -> float:
        return self.time

    def local_now(self) -> dt.datetime:
        return self.local_start + dt.timedelta(seconds=self.time - self.start)

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        if interruptible:
            self.check()
        self.slept.append(seconds)
        self.time += max(0.0, seconds)

    def check(self) -> None:
        if self.shutdown_after is not None and len(self.slept) >= self.shutdown_after:
            raise ShutdownRequested("shutdown requested")

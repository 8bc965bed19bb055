"""Time, as everything in seal reads it: the `Clock` Protocol and the real clock.

Every module that reads the time or sleeps is handed a `Clock`, so that tests
drive time instead of waiting for it. No I/O beyond sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Protocol

from seal.errors import ShutdownRequested


class Clock(Protocol):
    """Wall time, monotonic time, local time, and sleeps that a shutdown cuts short."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float: ...

    def local_now(self) -> dt.datetime:
        """The local date and time (day-time filters and label mode read it)."""
        ...

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        """Sleep. An interruptible sleep raises `ShutdownRequested` when a shutdown cuts
        it short (or was asked for already); backoffs that undos rely on are not."""
        ...

    def check(self) -> None:
        """Raise `ShutdownRequested` if a shutdown was asked for."""
        ...


class SystemClock:
    """Real time; `sleep` returns early (raising) once `request_shutdown` was called."""

    def __init__(self) -> None:
        self._shutdown = threading.Event()

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def local_now(self) -> dt.datetime:
        return dt.datetime.now()

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        if not interruptible:
            time.sleep(max(0.0, seconds))
            return
        if seconds <= 0:
            self.check()
            return
        if self._shutdown.wait(seconds):
            raise ShutdownRequested("shutdown requested")

    def check(self) -> None:
        if self._shutdown.is_set():
            raise ShutdownRequested("shutdown requested")

    def request_shutdown(self) -> None:
        self._shutdown.set()

    @property
    def shutting_down(self) -> bool:
        return self._shutdown.is_set()

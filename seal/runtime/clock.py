"""Time for the runtime: a wall clock whose sleeps a shutdown can cut short.

No I/O beyond sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


class ShutdownRequested(Exception):
    """A sleep was cut short because seal is shutting down."""


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

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            self.check()
            return
        if self._shutdown.wait(seconds):
            raise ShutdownRequested("shutdown requested")

    def check(self) -> None:
        """Raise `ShutdownRequested` if a shutdown was asked for."""
        if self._shutdown.is_set():
            raise ShutdownRequested("shutdown requested")

    def request_shutdown(self) -> None:
        self._shutdown.set()

    @property
    def shutting_down(self) -> bool:
        return self._shutdown.is_set()

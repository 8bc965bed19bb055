"""Re-running a pipeline until it succeeds, its count runs out or its time is up.

No I/O; sleeps through the injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from seal.errors import SafetyError, SealError

log = logging.getLogger(__name__)
T = TypeVar("T")


class SleepingClock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


def run_with_retries(
    attempt: Callable[[], T],
    clock: SleepingClock,
    *,
    count: int | None = None,
    timeout: float | None = None,
    sleep: float = 0.0,
) -> T:
    """Call `attempt` until it returns; on a `SealError` try again.

    With `count`, at most `count` attempts in all; with `timeout`, no new attempt
    starts once `timeout` seconds have passed since the first. With neither, one
    attempt. A `SafetyError` is never retried: the step is refused as written.
    The last error is raised when the retries are used up.
    """
    started = clock.monotonic()
    attempts = 0
    max_attempts = count if count is not None else (None if timeout is not None else 1)
    while True:
        attempts += 1
        try:
            return attempt()
        except SafetyError:
            raise
        except SealError as exc:
            out_of_count = max_attempts is not None and attempts >= max_attempts
            elapsed = clock.monotonic() - started
            out_of_time = timeout is not None and elapsed + sleep > timeout
            if out_of_count or out_of_time:
                if attempts > 1:
                    log.warning("giving up after %d attempts: %s", attempts, exc)
                raise
            log.info("attempt %d failed (%s); retrying in %ss", attempts, exc, sleep)
            clock.sleep(sleep)

"""Waiting for the policy's schedule (config.schedule) to allow chaos.

Before each scenario the runner asks the gate; outside every window (or in a
blackout) the gate sleeps until the next opening, in short interruptible naps
that re-read the policy (its schedule may be edited while seal waits) and keep
/healthz fed, and says what it does in the log, in /readyz and in the
`seal_schedule_open` metric. Does I/O only through the clock, metrics and loader
it is given.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from seal.policy.model import Policy
from seal.policy.schedule import describe

log = logging.getLogger("seal.runtime.runner")

#: the longest nap while waiting: the policy is re-read and liveness fed this often
NAP_SECONDS = 30.0


class GateClock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float, *, interruptible: bool = True) -> None: ...


class ScheduleMetrics(Protocol):
    def schedule_state(self, open_now: bool, reason: str, next_open: float | None) -> None: ...


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = f"{hours}h{mins:02d}m" if hours else f"{mins}m"
    return f"{days}d {text}" if days else text


class ScheduleGate:
    """Holds the runner back while the policy's schedule is closed."""

    def __init__(
        self, clock: GateClock, metrics: ScheduleMetrics, reload: Callable[[], Policy]
    ) -> None:
        self._clock = clock
        self._metrics = metrics
        self._reload = reload
        #: what was last said (None: nothing yet), so the log speaks at changes only
        self._said: object = None

    def wait(self, policy: Policy) -> Policy:
        """Return when chaos may run, with the policy as it is then (re-read while
        waiting; the same object when there was no wait). A shutdown request ends the
        wait by raising `ShutdownRequested` from the clock."""
        while True:
            schedule = policy.config.schedule
            if schedule is None:
                if self._said is not None:
                    self._opened("the policy no longer has a schedule")
                return policy
            now = self._clock.now()
            moment = dt.datetime.fromtimestamp(now, dt.UTC)
            reason = schedule.closed_because(moment)
            if reason is None:
                if self._said != "open":
                    self._opened(f"inside the schedule ({schedule.zone})")
                return policy
            opening = schedule.next_open(moment)
            when = opening.timestamp() if opening else None
            self._metrics.schedule_state(False, reason, when)
            self._closed(reason, opening, schedule.zone, now)
            nap = NAP_SECONDS if when is None else min(NAP_SECONDS, max(when - now, 0.0))
            self._clock.sleep(max(nap, 0.001))
            policy = self._reload()

    def _opened(self, why: str) -> None:
        log.info("chaos may run: %s", why, extra={"schedule": "open"})
        self._said = "open"
        self._metrics.schedule_state(True, "", None)

    def _closed(self, reason: str, opening: dt.datetime | None, zone: str, now: float) -> None:
        if opening is None:
            text = f"no chaos: {reason}; no window opens in the next 400 days"
        else:
            text = (
                f"no chaos: {reason}; waiting for the next window, "
                f"{describe(opening, zone)} (in {_span(opening.timestamp() - now)})"
            )
        if self._said != (reason, opening):
            log.warning("%s", text, extra={"schedule": "closed"})
        self._said = (reason, opening)

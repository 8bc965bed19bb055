"""What background load came to: per-second buckets, a sliding window, totals, and the
judgement of a window against thresholds. No I/O; safe to share between threads.

Requests are counted when they end (answered, failed or timed out), at that time.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from seal.outcomes import LoadReport, LoadSecond
from seal.policy.background import LoadThresholds

#: latency histogram buckets for the totals: each is 1% wider than the one before
_BUCKETS_PER_E = 100


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile `pct` (0 < pct <= 100) of sorted, non-empty values."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Window:
    """The requests that ended in the last `seconds` seconds."""

    seconds: float
    requests: int
    errors: int
    #: their latencies in seconds, sorted
    latencies: tuple[float, ...]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def breach(thresholds: LoadThresholds, window: Window) -> str | None:
    """What in `window` is beyond the thresholds, in words; None when nothing is (or when
    the window holds fewer than `min_requests` requests: too few to judge)."""
    if window.requests < thresholds.min_requests:
        return None
    span = f"over the last {window.seconds:g} s"
    limit = thresholds.max_error_rate
    if limit is not None and window.error_rate > limit:
        return (
            f"error rate {window.error_rate:.2f} {span} > maxErrorRate {limit:g} "
            f"({window.errors} of {window.requests} requests)"
        )
    most = thresholds.max_latency_ms
    if most is not None:
        pct = thresholds.percentile
        latency_ms = percentile(window.latencies, pct) * 1000
        if latency_ms > most:
            return (
                f"p{pct:g} latency {latency_ms:.0f} ms {span} > maxLatencyMs {most:g} "
                f"({window.requests} requests)"
            )
    return None


class _Second:
    __slots__ = ("errors", "latencies")

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0


class LoadStats:
    """Records every request's end; hands out windows, per-second summaries and totals.

    `started` is the monotonic time the load started; `keep` how many seconds of raw
    requests a window may look back over.
    """

    def __init__(self, started: float, keep: float = 10.0) -> None:
        self.started = started
        self.keep = keep
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, float, bool]] = deque()
        self._open: dict[int, _Second] = {}
        self._closed: list[LoadSecond] = []
        self._histogram: Counter[int] = Counter()
        self.requests = 0
        self.errors = 0
        self._pending: tuple[list[float], list[float]] = ([], [])

    def record(self, ended: float, latency: float, error: bool) -> None:
        """One request that ended at monotonic time `ended`, after `latency` seconds."""
        second = int(ended - self.started)
        with self._lock:
            self.requests += 1
            self.errors += error
            self._recent.append((ended, latency, error))
            bucket = self._open.get(second)
            if bucket is None:
                bucket = self._open[second] = _Second()
                self._close_before(second)
            bucket.latencies.append(latency)
            bucket.errors += error
            self._histogram[_bucket(latency)] += 1
            self._pending[error].append(latency)

    def _close_before(self, second: int) -> None:
        for t in sorted(s for s in self._open if s < second):
            self._closed.append(_summary(t, self._open.pop(t)))

    def window(self, now: float, seconds: float) -> Window:
        """The requests that ended in (now - seconds, now]."""
        with self._lock:
            while self._recent and self._recent[0][0] <= now - max(seconds, self.keep):
                self._recent.popleft()
            inside = [(lat, err) for end, lat, err in self._recent if now - seconds < end <= now]
        return Window(
            seconds,
            len(inside),
            sum(err for _, err in inside),
            tuple(sorted(lat for lat, _ in inside)),
        )

    def drain(self) -> tuple[list[float], list[float]]:
        """The latencies of the successes and of the errors recorded since the last call."""
        with self._lock:
            pending, self._pending = self._pending, ([], [])
        return pending

    def report(self, target: str, users: int, rate: float, now: float) -> LoadReport:
        """Everything so far; the seconds still open are closed (call it once, at the end)."""
        with self._lock:
            self._close_before(int(now - self.started) + 1)
            seconds = _with_gaps(self._closed)
            requests, errors = self.requests, self.errors
            histogram = dict(self._histogram)
        totals = _histogram_percentiles(histogram, requests)
        return LoadReport(
            target=target,
            users=users,
            rate=rate,
            duration=round(max(0.0, now - self.started), 3),
            requests=requests,
            errors=errors,
            p50=totals[0],
            p95=totals[1],
            p99=totals[2],
            seconds=seconds,
        )


def _with_gaps(closed: Sequence[LoadSecond]) -> tuple[LoadSecond, ...]:
    """Every second from the first to the last, those in which no request ended at 0."""
    by_t = {s.t: s for s in closed}
    last = max(by_t, default=-1)
    return tuple(by_t.get(t, LoadSecond(t, 0, 0)) for t in range(last + 1))


def _bucket(latency: float) -> int:
    return math.floor(math.log(max(latency, 1e-6)) * _BUCKETS_PER_E)


def _summary(t: int, second: _Second) -> LoadSecond:
    ordered = sorted(second.latencies)
    p50, p95, p99 = (round(percentile(ordered, p) * 1000, 2) for p in (50, 95, 99))
    return LoadSecond(t, len(ordered), second.errors, p50, p95, p99)


def _histogram_percentiles(
    histogram: dict[int, int], count: int
) -> tuple[float | None, float | None, float | None]:
    """p50, p95 and p99 in milliseconds from the 1%-wide latency buckets (within 1%)."""
    if not count:
        return None, None, None
    found: list[float] = []
    wanted = [max(1, math.ceil(p / 100 * count)) for p in (50, 95, 99)]
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        while wanted and seen >= wanted[0]:
            wanted.pop(0)
            found.append(round(math.exp((index + 0.5) / _BUCKETS_PER_E) * 1000, 2))
    return found[0], found[1], found[2]

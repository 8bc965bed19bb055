"""Client-side limits on the requests seal makes to an API server: a token bucket (QPS and
burst) and a bound on the requests in flight.

A large kill must not overload a real API server: every request first takes a token
from the bucket, which refills at `qps` tokens a second up to `burst`. No I/O beyond
sleeping on the injected clock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from seal.clock import Clock, SystemClock
from seal.errors import ShutdownRequested

if TYPE_CHECKING:
    import urllib3

#: requests a second, and how many may go at once after a quiet spell, when the API
#: server does not pace its clients itself (see `ClientLimits.auto`): high enough that 10,000 kills
#: end within 10 s, low enough that a mistaken policy cannot flood an API server with
#: tens of thousands of requests a second. Lower them for a shared control plane.
DEFAULT_QPS = 1000.0
DEFAULT_BURST = 2000
#: the answer headers of an API server that applies priority and fairness (APF): it
#: queues what it can and sheds the rest with 429 and Retry-After, which seal retries;
#: pacing on top of it only slows seal down (client-go's advice since Kubernetes 1.22)
APF_HEADERS = ("x-kubernetes-pf-flowschema-uid", "x-kubernetes-pf-prioritylevel-uid")
#: requests in flight at once by default (the step pool and the connection pool too)
DEFAULT_MAX_CONCURRENT = 16
#: connections kept beyond those for watch streams, which stay open (the watch cache's)
STREAMS = 4
_T = TypeVar("_T")
#: the lowest `--kube-api-qps`: below it a single request may wait minutes for its turn
MIN_QPS = 0.1
#: a request that waits this long (seconds) for its token is logged, once
SLOW_WAIT = 3.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientLimits:
    """How hard seal may press on the API server (`--kube-api-qps`, `--kube-api-burst`,
    `--max-concurrent-requests`)."""

    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    #: neither rate was given: the client-side limit is lifted once the API server shows
    #: that it applies priority and fairness itself
    auto: bool = False


class TokenBucket:
    """Admits `qps` requests a second on average and at most `burst` at once.

    Thread-safe. A caller reserves its token under the lock (the bucket may go below zero:
    callers queue up in the order they came) and sleeps outside it until its turn.
    """

    def __init__(
        self, qps: float, burst: int, clock: Clock | None = None, *, auto: bool = False
    ) -> None:
        if not qps > 0:
            raise ValueError(f"qps must be above 0, not {qps}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.qps = qps
        self.burst = burst
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = self._clock.monotonic()
        self._warned = False
        #: lifted when the server paces clients itself (`auto` limits only)
        self.auto = auto
        self.lifted = False

    def saw_answer(self, headers: Mapping[str, str]) -> None:
        """An answer's headers: an `auto` limit is lifted at the first that shows the API
        server applies priority and fairness (said once in the log)."""
        if not self.auto or self.lifted:
            return
        if any(headers.get(name) for name in APF_HEADERS):
            self.lifted = True
            log.info(
                "the API server applies priority and fairness: seal does not pace its own "
                "requests (the server's 429s are retried as it asks); give --kube-api-qps "
                "to pace them anyway"
            )

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it (0 when one was there, or
        when the limit is lifted)."""
        if self.lifted:
            return 0.0
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.qps

    def acquire(self) -> float:
        """Wait for a token; the seconds it was due to wait.

        A shutdown ends the wait, and once one was asked for the limiter is bypassed: the
        request goes at once (as if sent just before the signal), so that neither a
        waiting request nor the undos that follow (which must get their requests
        through, and soon: a process manager kills seal at the end of its grace period)
        are held up by a low `--kube-api-qps`. The requests in flight stay bounded by
        `--max-concurrent-requests`, and an API server's 429 is still retried."""
        delay = self.reserve()
        if delay > 0:
            if delay >= SLOW_WAIT and not self._warned:
                self._warned = True
                log.warning(
                    "requests are throttled by --kube-api-qps %g: one waits %.0f s for its "
                    "turn (raise --kube-api-qps or --kube-api-burst to go faster)",
                    self.qps,
                    delay,
                )
            with contextlib.suppress(ShutdownRequested):
                self._clock.sleep(delay)
        return delay


class PacedPool:
    """Requests that take a token first and are at most `max_in_flight` at once, through
    a urllib3 pool made on first use by `make_pool` (watch streams are paced but not
    bounded: they stay open)."""

    def __init__(
        self,
        make_pool: Callable[[], urllib3.PoolManager],
        max_in_flight: int,
        limiter: TokenBucket | None = None,
    ) -> None:
        self._make_pool = make_pool
        self._pool: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()
        self.limiter = limiter
        self._in_flight = threading.BoundedSemaphore(max_in_flight)

    @property
    def pool(self) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool is None:
                self._pool = self._make_pool()
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.clear()

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        if self.limiter is not None:
            self.limiter.acquire()
        with self._in_flight:
            return self.pool.request(method, url, **kwargs)

    def paced(self, send: Callable[[], _T]) -> _T:
        """`send()` (a request through another transport), paced and bounded as above."""
        if self.limiter is not None:
            self.limiter.acquire()
        with self._in_flight:
            return send()

    def stream(
        self, url: str, headers: dict[str, str], timeout: urllib3.Timeout
    ) -> urllib3.BaseHTTPResponse:
        if self.limiter is not None:
            self.limiter.acquire()
        return self.pool.request(
            "GET", url, headers=headers, timeout=timeout, retries=False, preload_content=False
        )

"""Is seal alive, is it ready: `/healthz` and `/readyz`, served beside `/metrics`.

`Health` listens to the events of a run as one more metrics collector: every event
(a step finished, a pod killed, a probe answered, an undo done, the policy re-read) is
progress. `/healthz` answers 503 once no progress was seen for longer than the policy
allows: its longest pause between loops, plus the longest waits and timeouts one of its
steps may spend, plus a floor for undos and API retries (or `SEAL_HEALTH_STALL_SECONDS`).
`/readyz` answers 200 once seal reached the cluster and runs a valid policy; leader
election adds its role through `Health.role` (a standby, whose policy was checked before it
started waiting, is ready too).

Does I/O only when `start_server` is called: an HTTP server on a thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from seal.errors import UsageError
from seal.metrics import Metrics
from seal.policy.model import Policy

if TYPE_CHECKING:  # the HTTP server (http.server, email...) only when metrics are served
    from wsgiref.simple_server import WSGIServer

log = logging.getLogger(__name__)

#: overrides the bound computed from the policy, in seconds
STALL_ENV = "SEAL_HEALTH_STALL_SECONDS"
#: what any loop may take beyond the policy's own waits: undos (a machine started again
#: takes up to 10 minutes), API retries, kills of many pods
FLOOR_SECONDS = 900.0
#: spec fields that are durations, in seconds (`timeout_ms`: milliseconds)
_DURATIONS = ("seconds", "timeout", "timeout_seconds", "duration_seconds", "delay_seconds")
#: roles leader election may set; `None` until it does (a seal without election)
READY_ROLES = (None, "leader", "standby")
#: the events of a run, each one progress
_EVENTS = frozenset(name for name in vars(Metrics) if not name.startswith("_"))

Clock = Callable[[], float]


def stall_seconds(environ: Mapping[str, str]) -> float | None:
    """The bound `SEAL_HEALTH_STALL_SECONDS` sets, if any; `UsageError` when it is no number."""
    text = environ.get(STALL_ENV)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"{STALL_ENV}={text!r}: expected a number of seconds above 0")
    return value


def _durations(value: Any, depth: int = 0) -> Iterable[float]:
    """Every duration a step's spec holds, however deep (bounded), in seconds."""
    if depth > 8:
        return
    fields: tuple[str, ...] = getattr(type(value), "__match_args__", ())  # frozen value types
    if fields and not isinstance(value, type):
        for name in fields:
            item = getattr(value, name)
            if isinstance(item, int | float) and not isinstance(item, bool):
                if name in _DURATIONS:
                    yield float(item)
                elif name.endswith("_ms"):
                    yield item / 1000
            else:
                yield from _durations(item, depth + 1)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _durations(item, depth + 1)


def policy_bound(policy: Policy) -> float:
    """How long a loop of `policy` may go without progress: the longest pause between loops,
    plus what its slowest step may wait in all, plus `FLOOR_SECONDS`."""
    slowest = max(
        (sum(_durations(step)) for s in policy.scenarios for step in s.steps), default=0.0
    )
    return policy.run_strategy.max_seconds + slowest + FLOOR_SECONDS


class Health:
    """Progress and readiness of one seal process; thread-safe."""

    def __init__(self, *, stall_seconds: float | None = None, clock: Clock = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._last_progress = clock()
        self._fixed_bound = stall_seconds
        self._bound = stall_seconds or FLOOR_SECONDS
        self._connected = False
        self._policy: str | None = None
        #: leader election's seam: "leader" or "standby" are ready, anything else is not
        self.role: str | None = None
        #: what the policy's schedule says (None: no schedule); waiting is still ready
        self._schedule: str | None = None

    def progress(self) -> None:
        with self._lock:
            self._last_progress = self._clock()

    def connected(self) -> None:
        """The cluster answered."""
        with self._lock:
            self._connected = True
        self.progress()

    def watch(self, policy: Policy) -> Policy:
        """`policy` is in force: readiness needs one, and its waits set the liveness bound."""
        with self._lock:
            self._policy = f"valid, {len(policy.scenarios)} scenario(s)"
            self._bound = self._fixed_bound or policy_bound(policy)
        self.progress()
        return policy

    def __getattr__(self, name: str) -> Callable[..., None]:
        """Every metrics event is progress."""
        if name not in _EVENTS:
            raise AttributeError(name)
        return lambda *args: self.progress()

    def load_requests(self, *args: Any) -> None:
        """Not progress: the background load runs on its own thread while a step may hang."""

    def label_mode(self, namespaces: str) -> None:
        """Label mode has no policy: what it watches stands in for one in /readyz."""
        with self._lock:
            self._policy = f"label mode over {namespaces or 'every namespace'}"
        self.progress()

    def policy_reload_failed(self) -> None:
        # the last good policy keeps running (seal_policy_reload_failed_total says so)
        with self._lock:
            self._policy = "the last re-read was invalid; the last good policy runs"
        self.progress()

    def schedule_state(self, open_now: bool, reason: str, next_open: float | None) -> None:
        """A seal waiting for its schedule is alive and ready (its metrics stay scraped);
        /readyz says why it waits and until when."""
        if open_now:
            text = "open"
        else:
            until = (
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(next_open))
                if next_open is not None
                else "no window in the next 400 days"
            )
            text = f"closed ({reason}); waiting until {until}"
        with self._lock:
            self._schedule = text
        self.progress()

    def liveness(self) -> tuple[int, str]:
        with self._lock:
            idle = self._clock() - self._last_progress
            bound = self._bound
        status = 200 if idle <= bound else 503
        word = "ok" if status == 200 else "stalled"
        return status, f"{word}: last progress {idle:.1f}s ago (bound {bound:g}s)\n"

    def readiness(self) -> tuple[int, str]:
        with self._lock:
            checks = {
                "cluster": "connected" if self._connected else "not connected yet",
                "policy": self._policy or "none loaded yet",
                "role": self.role or "none (no leader election)",
            }
            if self._schedule is not None:
                checks["schedule"] = self._schedule
            # a standby runs no policy yet: seal checked it before it started waiting
            loaded = self._policy is not None or self.role == "standby"
            ready = self._connected and loaded and self.role in READY_ROLES
        body = "".join(f"{key}: {value}\n" for key, value in checks.items())
        return (200, "ok\n" + body) if ready else (503, "not ready\n" + body)

    def start_server(self, port: int, addr: str, registry: Any) -> tuple[WSGIServer, Any]:
        """Serve /healthz, /readyz and, on every other path, `registry`'s metrics."""
        from wsgiref.simple_server import make_server

        import prometheus_client as prom

        server_class, handler_class = _server_classes()
        app = _app(self, prom.make_wsgi_app(registry))
        server = make_server(addr, port, app, server_class, handler_class=handler_class)
        thread = threading.Thread(target=server.serve_forever, name="seal-metrics", daemon=True)
        thread.start()
        return server, thread


def _app(health: Health, metrics_app: Any) -> Any:
    routes = {"/healthz": health.liveness, "/readyz": health.readiness}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        route = routes.get(environ.get("PATH_INFO", ""))
        if route is None:
            return metrics_app(environ, start_response)
        status, body = route()
        phrase = "OK" if status == 200 else "Service Unavailable"
        start_response(f"{status} {phrase}", [("Content-Type", "text/plain; charset=utf-8")])
        return [body.encode()]

    return app


def _server_classes() -> tuple[type[WSGIServer], type[Any]]:
    """A threading WSGI server, and a handler that logs each request at debug level only
    (probes come every few seconds): defined when the endpoint starts."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    class ThreadingServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics endpoint: " + format, *args)

    return ThreadingServer, QuietHandler

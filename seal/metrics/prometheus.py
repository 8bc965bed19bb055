"""Metrics in a Prometheus registry, served over HTTP when asked.

prometheus-client is imported only when `PrometheusMetrics` is built.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any


class PrometheusMetrics:
    """Prometheus metrics in a registry of their own."""

    def __init__(self) -> None:
        import prometheus_client as prom

        self.registry = prom.CollectorRegistry()
        r = self.registry
        self._kills = _PodKills()
        r.register(self._kills)
        self._stopped = prom.Counter(
            "seal_nodes_stopped", "Machines stopped", ["status"], registry=r
        )
        self._execute = prom.Counter(
            "seal_execute_failed", "Commands on nodes that failed", registry=r
        )
        self._empty_filter = prom.Counter(
            "seal_empty_filter", "Filters that left nothing", registry=r
        )
        self._probability = prom.Counter(
            "seal_probability_filter_not_passed",
            "Probability filters that let nothing through",
            registry=r,
        )
        self._empty_match = prom.Counter(
            "seal_empty_match", "Matchers that found nothing", ["source"], registry=r
        )
        self._runs = prom.Counter(
            "seal_scenario_runs", "Scenario runs", ["name", "result"], registry=r
        )
        self._scenario_seconds = prom.Histogram(
            "seal_scenario_duration_seconds", "Scenario duration", ["name"], registry=r
        )
        self._step_seconds = prom.Histogram(
            "seal_step_duration_seconds",
            "Step duration",
            ["scenario", "step", "result"],
            registry=r,
        )
        self._probe_seconds = prom.Histogram(
            "seal_probe_latency_seconds",
            "Probe request latency",
            ["target"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._probes = prom.Counter(
            "seal_probes", "Probe requests", ["target", "outcome"], registry=r
        )
        self._add_run_metrics(prom)
        self._add_client_metrics(prom)
        self._add_load_metrics(prom)
        self._pending = prom.Gauge("seal_pending_undos", "Undos not yet carried out", registry=r)
        self._undo_failed = prom.Counter(
            "seal_undo_failed", "Undos that failed", ["kind"], registry=r
        )
        self._last_success = prom.Gauge(
            "seal_scenario_last_success_timestamp_seconds",
            "When each scenario last passed",
            ["name"],
            registry=r,
        )

    def _add_load_metrics(self, prom: Any) -> None:
        """Background load: its requests by result, and their latency."""
        self._load_requests = prom.Counter(
            "seal_load_requests",
            "Background-load requests, by result (success, error)",
            ["scenario", "result"],
            registry=self.registry,
        )
        self._load_seconds = prom.Histogram(
            "seal_load_latency_seconds",
            "Background-load request latency",
            ["scenario"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def _add_client_metrics(self, prom: Any) -> None:
        """What seal could not tell the cluster."""
        self._events_dropped = prom.Counter(
            "seal_events_dropped",
            "Kubernetes Events seal could not send (a full queue, or a flush past its time)",
            registry=self.registry,
        )

    def _add_run_metrics(self, prom: Any) -> None:
        """Policy reloads, the time waitFor steps waited, and the schedule's state."""
        self._leader = prom.Gauge(
            "seal_leader",
            "1 while this seal holds the leader lease, else 0",
            registry=self.registry,
        )
        self._schedule_open = prom.Gauge(
            "seal_schedule_open",
            "1 when the policy's schedule lets chaos run now (or it has none), 0 while waiting",
            registry=self.registry,
        )
        self._schedule_open.set(1)
        self._schedule_next = prom.Gauge(
            "seal_schedule_next_open_timestamp_seconds",
            "While waiting for the schedule: when its next window opens (0 otherwise)",
            registry=self.registry,
        )
        self._reload = prom.Counter(
            "seal_policy_reload_failed",
            "Policy re-reads that found the file invalid",
            registry=self.registry,
        )
        self._wait_for_seconds = prom.Histogram(
            "seal_wait_for_seconds",
            "How long waitFor steps waited until their condition held",
            ["scenario", "step"],
            registry=self.registry,
            buckets=(0.5, 1, 2.5, 5, 10, 15, 30, 45, 60, 120, 300, 600),
        )
        self._add_verdict_metrics(prom)

    def _add_verdict_metrics(self, prom: Any) -> None:
        """Recovery times, and actions by verdict (each verdict's series exists from the
        start, at 0)."""
        self._recovery_seconds = prom.Histogram(
            "seal_recovery_seconds",
            "How long the workloads and Services a kill, eviction or stop hit took to recover",
            ["scenario", "step"],
            registry=self.registry,
            buckets=(0.5, 1, 2.5, 5, 10, 15, 30, 45, 60, 120, 300, 600),
        )
        self._verified = prom.Counter(
            "seal_action_verified",
            "Actions by what the evidence says of their effect",
            ["result"],
            registry=self.registry,
        )
        #: each verdict's series, looked up once (a kill of 10,000 pods counts 10,000)
        self._verdicts = {
            result: self._verified.labels(result)
            for result in ("verified", "not-verified", "unverified")
        }

    def serve(self, host: str, port: int, start: Any = None) -> None:
        """Serve /metrics; `start` (prometheus-client's `start_http_server` by default) may
        serve more paths beside it, as seal's health endpoints do."""
        import prometheus_client as prom

        start = start or prom.start_http_server
        self._server, _ = start(port, addr=host, registry=self.registry)

    def close(self) -> None:
        """Stop serving metrics (a no-op when `serve` was never called)."""
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()

    def pod_killed(self, namespace: str, name: str, status: str) -> None:
        self._kills.inc(status, namespace, name)

    def node_stopped(self, node: str, status: str) -> None:
        self._stopped.labels(status).inc()

    def execute_failed(self, node: str) -> None:
        self._execute.inc()

    def events_dropped(self, count: int) -> None:
        self._events_dropped.inc(count)

    def empty_match(self, source: str) -> None:
        self._empty_match.labels(source).inc()

    def empty_filter(self) -> None:
        self._empty_filter.inc()

    def probability_filter_not_passed(self) -> None:
        self._probability.inc()

    def scenario_finished(self, name: str, result: str, duration: float) -> None:
        self._runs.labels(name, result).inc()
        self._scenario_seconds.labels(name).observe(duration)
        if result == "passed":
            self._last_success.labels(name).set(time.time())

    def step_finished(self, scenario: str, step: str, result: str, duration: float) -> None:
        self._step_seconds.labels(scenario, step, result).observe(duration)

    def probe_finished(self, target: str, outcome: str, latency: float) -> None:
        self._probes.labels(target, outcome).inc()
        self._probe_seconds.labels(target).observe(latency)

    def load_requests(
        self, scenario: str, successes: Sequence[float], errors: Sequence[float]
    ) -> None:
        """Count a batch; both results' series exist from the first batch (even empty)."""
        self._load_requests.labels(scenario, "success").inc(len(successes))
        self._load_requests.labels(scenario, "error").inc(len(errors))
        histogram = self._load_seconds.labels(scenario)
        for latency in (*successes, *errors):
            histogram.observe(latency)

    def wait_for_seconds(self, scenario: str, step: str, seconds: float) -> None:
        self._wait_for_seconds.labels(scenario, step).observe(seconds)

    def recovery_seconds(self, scenario: str, step: str, seconds: float) -> None:
        self._recovery_seconds.labels(scenario, step).observe(seconds)

    def action_verified(self, result: str) -> None:
        series = self._verdicts.get(result)
        (series if series is not None else self._verified.labels(result)).inc()

    def pending_undos(self, count: int) -> None:
        self._pending.set(count)

    def leader(self, is_leader: bool) -> None:
        self._leader.set(1 if is_leader else 0)

    def undo_failed(self, kind: str) -> None:
        self._undo_failed.labels(kind).inc()

    def policy_reload_failed(self) -> None:
        self._reload.inc()

    def scenarios_known(self, names: Sequence[str]) -> None:
        """Every scenario's run counters exist from the start, at 0, so that `increase()`
        and `rate()` see the first failure too."""
        for name in names:
            for result in ("passed", "failed", "interrupted", "not-steady", "deviated", "aborted"):
                self._runs.labels(name, result)

    def schedule_state(self, open_now: bool, reason: str, next_open: float | None) -> None:
        self._schedule_open.set(1 if open_now else 0)
        self._schedule_next.set(next_open if next_open is not None and not open_now else 0)

    def undo_kinds_known(self, kinds: Sequence[str]) -> None:
        """The undo-failure counter of every kind of change exists from the start, at 0."""
        for kind in kinds:
            self._undo_failed.labels(kind)


class _PodKills:
    """`seal_pod_kills_total{status,namespace,name}`, as a labelled Counter shows it, but
    counted in a dict: a kill of 10,000 pods makes 10,000 series, and a Counter's child
    per series costs more than the count itself. The series are made when scraped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], list[float]] = {}  # [count, created]

    def inc(self, status: str, namespace: str, name: str) -> None:
        key = (status, namespace, name)
        with self._lock:
            counted = self._counts.get(key)
            if counted is None:
                self._counts[key] = [1.0, time.time()]
            else:
                counted[0] += 1

    @staticmethod
    def _family() -> Any:
        from prometheus_client.core import CounterMetricFamily

        return CounterMetricFamily(
            "seal_pod_kills", "Pods killed", labels=["status", "namespace", "name"]
        )

    def collect(self) -> Iterator[Any]:
        family = self._family()
        with self._lock:
            counts = [(key, count, created) for key, (count, created) in self._counts.items()]
        for key, count, created in counts:
            family.add_metric(key, count, created=created)
        yield family

    def describe(self) -> Iterator[Any]:
        """The family without its samples: registering needs only its name."""
        yield self._family()

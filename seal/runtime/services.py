"""The services of one seal process against one cluster, opened in one place and closed
with it: the Kubernetes client, prober, kubectl, thread pool, undo journal, metrics,
clock and random source.

Opens network connections, a state directory and (when asked) a metrics port.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seal.adapters.events import EventRecorder
from seal.adapters.http import Prober
from seal.adapters.identity import identify
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import ClusterConnection, kubectl_config
from seal.adapters.kubectl import Kubectl, KubectlTarget
from seal.adapters.private_files import private_file
from seal.adapters.ratelimit import ClientLimits, TokenBucket
from seal.adapters.watch_cache import CachedPods, WatchCache
from seal.clock import SystemClock
from seal.errors import ClusterUnreachable, KubeError, UsageError
from seal.frozen import frozen
from seal.metrics import FanOut, Metrics, NullMetrics, PrometheusMetrics, StdoutCollector
from seal.policy.model import Safety
from seal.runtime.health import Health, stall_seconds
from seal.runtime.journal import UndoJournal, default_state_dir
from seal.runtime.state import State, StateOptions, open_journal, resolve_state
from seal.selection.safety import SafetyRules
from seal.steps.base import KubeEvents, StepContext
from seal.steps.ports import CloudDriver, Executor, NodeSource, UndoRecorder
from seal.steps.registry import undo_handlers
from seal.tracing import NULL_TRACER, Tracer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SafetyFlags:
    """Safety from the command line; it adds to what the policy says."""

    dry_run: bool = False
    protected_namespaces: tuple[str, ...] = ()
    max_targets_per_step: int | None = None
    fail_on_empty_match: bool = False


@dataclass(frozen=True)
class MetricsOptions:
    """Where metrics go: a Prometheus endpoint, standard output, both or neither."""

    address: str | None = None
    stdout: bool = False


@dataclass(frozen=True)
class RunOptions:
    """Every run flag, parsed once by the command line."""

    kubeconfig: str | None = None
    context: str | None = None
    state_dir: str | None = None
    seed: int | None = None
    safety: SafetyFlags = SafetyFlags()
    metrics: MetricsOptions = MetricsOptions()
    client: ClientLimits = field(default_factory=ClientLimits)
    #: where the undo journal lives, and leader election
    state: StateOptions = field(default_factory=StateOptions)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else default_state_dir(self.environ)


def open_metrics(
    options: MetricsOptions, health: Health | None = None
) -> tuple[Metrics, PrometheusMetrics | None]:
    """The metrics sink the options ask for, and the Prometheus endpoint when one is served
    (with `health`'s /healthz and /readyz beside /metrics, and its events)."""
    collectors: list[Any] = []
    prometheus = None
    if options.address:
        bind, _, port_text = options.address.rpartition(":")
        if not port_text.isdigit():
            raise UsageError(f"--metrics-address {options.address!r}: expected HOST:PORT")
        prometheus = PrometheusMetrics()
        try:
            prometheus.serve(bind or "127.0.0.1", int(port_text), health and health.start_server)
        except OSError as exc:
            raise UsageError(f"cannot serve metrics on {options.address}: {exc.strerror}") from exc
        log.info("metrics served on http://%s/metrics", options.address)
        collectors.append(prometheus)
        collectors.extend([health] if health is not None else [])
    if options.stdout:
        collectors.append(StdoutCollector())
    if not collectors:
        return NullMetrics(), None
    return (collectors[0] if len(collectors) == 1 else FanOut(collectors)), prometheus


@frozen
class Services:
    """What a run works with; made by `open_services`, which closes it too."""

    options: RunOptions
    connection: ClusterConnection
    kube: KubeClient
    prober: Prober
    kubectl: Kubectl
    pool: ThreadPoolExecutor
    journal: UndoJournal
    metrics: Metrics
    clock: SystemClock
    rng: random.Random
    #: the cloud driver machines are stopped and started through (None: `--cloud none`)
    cloud: CloudDriver | None = None
    #: how commands reach nodes (None: execute fails the step, naming why)
    executor: Executor | None = None
    #: the inventory file's hosts instead of the cluster's nodes
    nodes: NodeSource | None = None
    #: liveness and readiness, served beside the metrics (None: no metrics endpoint)
    health: Health | None = None
    #: Kubernetes Events, queued and sent in the background (None: each sent at once)
    events: EventRecorder | None = None
    #: pods from watches when the policy runs many loops (`enabled` by the policy loop)
    watch_cache: WatchCache | None = None
    #: spans of loops, scenarios, steps and actions (the do-nothing tracer: tracing is off)
    tracer: Tracer = NULL_TRACER
    #: where the journal lives and whether a leader is elected (None: the journal's file)
    state: State | None = None

    def safety(self, policy: Safety | None = None) -> SafetyRules:
        """The policy's safety rules (the defaults without a policy) merged with the flags'."""
        return SafetyRules.merge(policy or Safety(), self.options.safety, self.options.environ)

    def context(self, scenario: str, undo: UndoRecorder, rules: SafetyRules) -> StepContext:
        cache = self.watch_cache
        return StepContext(
            scenario=scenario,
            kube=self.kube if cache is None or not cache.enabled else CachedPods(self.kube, cache),
            kubectl=self.kubectl,
            prober=self.prober,
            metrics=self.metrics,
            clock=self.clock,
            rng=self.rng,
            undo=undo,
            safety=rules,
            pool=self.pool,
            cloud=self.cloud,
            executor=self.executor,
            nodes=self.nodes,
            events=self.events.scope(scenario) if self.events else KubeEvents(self.kube),
        )

    def check_cluster(self) -> str:
        """The cluster's Kubernetes version; `KubeError` naming the server when unreachable."""
        try:
            version = self.kube.version()
        except KubeError as exc:
            raise ClusterUnreachable(
                f"cannot talk to the cluster at {self.connection.server}: {exc}", status=exc.status
            ) from exc
        return str(version.get("gitVersion", "?"))


def _kube_client(
    limits: ClientLimits,
    connection: ClusterConnection,
    clock: SystemClock,
    metrics: Metrics,
    stack: ExitStack,
) -> tuple[KubeClient, EventRecorder, WatchCache]:
    """The API client within its limits, the Event queue and the watch cache on it (closed
    with `stack`: the watches stopped and the queue flushed, bounded)."""
    kube = KubeClient(
        connection,
        clock=clock,
        pool_size=limits.max_concurrent,
        rate_limiter=TokenBucket(limits.qps, limits.burst, clock, auto=limits.auto),
    )
    events = EventRecorder(kube, metrics, clock=clock)
    stack.callback(events.close)
    watch_cache = WatchCache(kube)
    stack.callback(watch_cache.close)
    return kube, events, watch_cache


@contextmanager
def open_services(
    options: RunOptions,
    connection: ClusterConnection,
    *,
    metrics: Metrics | None = None,
    clock: SystemClock | None = None,
    cloud: CloudDriver | None = None,
    executor: Callable[[KubeClient], Executor] | None = None,
    nodes: NodeSource | None = None,
    tracer: Tracer = NULL_TRACER,
) -> Iterator[Services]:
    """Open every service of a run; close them all, in reverse order, however it ends."""
    with ExitStack() as stack:
        health = Health(stall_seconds=stall_seconds(options.environ))
        if metrics is None:
            metrics, prometheus = open_metrics(options.metrics, health)
            if prometheus is not None:
                stack.callback(prometheus.close)
        clock = clock or SystemClock()
        rng = random.Random(options.seed)
        kube, events, watch_cache = _kube_client(options.client, connection, clock, metrics, stack)
        identity = identify(kube)  # which cluster this is, whatever URL reached it
        state = resolve_state(options.state, options.environ)
        journal = open_journal(state, options.state_path, kube, identity, clock)
        stack.callback(journal.close)
        # kubectl reaches the cluster as seal does, never through the user's kubeconfig
        kubeconfig = private_file(kubectl_config(connection), "kubeconfig")
        stack.callback(kubeconfig.close)
        pool = ThreadPoolExecutor(
            max_workers=options.client.max_concurrent, thread_name_prefix="seal-action"
        )
        stack.callback(pool.shutdown, wait=True)
        services = Services(
            options=options,
            connection=connection,
            kube=kube,
            prober=Prober(tracer.headers),
            kubectl=Kubectl(
                KubectlTarget(kubeconfig.path, pass_fds=kubeconfig.fds), connection.namespace
            ),
            pool=pool,
            journal=journal,
            metrics=metrics,
            clock=clock,
            rng=rng,
            cloud=cloud,
            executor=executor(kube) if executor is not None else None,
            nodes=nodes,
            health=health if options.metrics.address else None,
            events=events,
            watch_cache=watch_cache,
            tracer=tracer,
            state=state,
        )
        health.connected()  # `identify` above had the cluster's answer
        metrics.pending_undos(len(journal))
        metrics.undo_kinds_known(sorted(undo_handlers()))
        yield services

"""recoveredWithin: how long the workloads and Services a kill, eviction or stop hit take
to be whole again.

Before the action, seal notes the workload that owns each affected pod (through its
controller ownerReference: a ReplicaSet's Deployment, a StatefulSet, a DaemonSet) with
its Ready pod count, and the Services whose selector picks an affected pod with their
ready endpoint count. After the action it polls, on the step's clock (so a shutdown cuts
the wait short), until every workload has as many Ready pods as before and every Service
as many ready endpoints; the time goes to `seal_recovery_seconds{scenario,step}`. A pod
with no such owner cannot have its recovery measured: that is said, not a failure.

Pods that are terminating, and, after a stop, pods and endpoints on the stopped nodes,
do not count as Ready: their node may not have been found NotReady yet, but they serve
no one. I/O only through the step's context.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from seal.errors import KubeError, SelectorError, StepFailed
from seal.labels import Selector, selector_from_match
from seal.model import Pod
from seal.outcomes import ActionRecord
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import number
from seal.steps.base import ApiCall, StepContext
from seal.steps.verdicts import StepReport

log = logging.getLogger("seal.steps.recovery")

Obj = dict[str, Any]
T = TypeVar("T")
#: the owners whose pods are replaced, and where the API keeps them
OWNERS = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
#: a bound on the checks of one wait, whatever its length
MAX_CHECKS = 100_000
#: the longest recoveredWithin a policy may give (a day)
MAX_SECONDS = 86_400.0
#: the schema of `recoveredWithin` on kill, stopHost and stop
RECOVERED_WITHIN = number(
    "seconds the workloads and Services of the pods hit may take to have as many Ready pods "
    "and endpoints as before; longer fails the step",
    exclusiveMinimum=0,
    maximum=MAX_SECONDS,
)


def recovered_within(body: DocNode) -> float | None:
    """An action's `recoveredWithin`, or None when it has none."""
    value = body.get("recoveredWithin")
    return None if value is None else float(value)


@dataclass(frozen=True)
class Watched:
    """A workload (its Ready pods) or a Service (its ready endpoints), and its count before."""

    kind: str  # deployment, replicaset, statefulset, daemonset, service
    namespace: str
    name: str
    before: int
    #: the pods that count for a workload
    selector: Selector | None = None

    def describe(self, now: int) -> str:
        unit = "endpoints" if self.kind == "service" else "Ready"
        return f"{self.kind} {self.namespace}/{self.name}: {now} of {self.before} {unit}"


@dataclass(frozen=True)
class Baseline:
    """What was whole before the action."""

    watched: tuple[Watched, ...]
    #: why some pods' recovery cannot be measured
    notes: tuple[str, ...]
    #: the nodes the action stops: nothing on them counts as Ready
    down_nodes: frozenset[str]
    #: namespace/name of each pod whose recovery cannot be measured -> why
    unmeasured: Mapping[str, str] = field(default_factory=dict)

    def annotate(self, records: Sequence[ActionRecord]) -> list[ActionRecord]:
        """The records, each of a pod whose recovery cannot be measured saying so."""
        return [
            replace(r, reason=f"{r.reason}; recovery not measured: {self.unmeasured[r.target]}")
            if r.target in self.unmeasured
            else r
            for r in records
        ]

    @property
    def namespaces(self) -> list[str]:
        return sorted({w.namespace for w in self.watched})

    def describe(self) -> str:
        return ", ".join(w.describe(w.before) for w in self.watched) or "nothing"


def _parallel(ctx: StepContext, items: Sequence[T], read: Callable[[T], Any]) -> list[Any]:
    """`read` of every item, in the step's pool; the first error is raised."""
    futures = [ctx.pool.submit(contextvars.copy_context().run, read, item) for item in items]
    return [future.result() for future in futures]


def _controller(obj: Obj) -> tuple[str, str] | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("name", ""))
    return None


def _selector(obj: Obj) -> Selector:
    match = obj.get("spec", {}).get("selector") or {}
    return selector_from_match(match.get("matchLabels"), match.get("matchExpressions"))


def _ready(pod: Obj, down_nodes: frozenset[str]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    if pod.get("spec", {}).get("nodeName") in down_nodes:
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def _endpoints(endpoints: Obj | None, down_nodes: frozenset[str]) -> int:
    if endpoints is None:
        return 0
    return sum(
        1
        for subset in endpoints.get("subsets") or []
        for address in subset.get("addresses") or []
        if address.get("nodeName") not in down_nodes
    )


def _workload(ctx: StepContext, namespace: str, kind: str, name: str) -> tuple[str, Obj]:
    """The workload a controller stands for (a ReplicaSet's Deployment), and its object."""
    obj = ctx.kube.get_apps_object(namespace, OWNERS[kind], name)
    owner = _controller(obj) if kind == "ReplicaSet" else None
    if owner is not None and owner[0] == "Deployment":
        return "deployment", ctx.kube.get_apps_object(namespace, "deployments", owner[1])
    return kind.lower(), obj


def _owners(
    pods: Sequence[Obj], stop: bool, unmeasured: dict[str, str]
) -> tuple[dict[tuple[str, str, str], None], list[str]]:
    """The controllers of the affected pods (namespace, kind, name), and notes on the pods
    whose recovery cannot be measured (each also put in `unmeasured`, with why)."""
    owners: dict[tuple[str, str, str], None] = {}
    orphans: list[str] = []
    others: list[str] = []
    for pod in pods:
        meta = pod.get("metadata", {})
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        owner = _controller(pod)
        if owner is None:
            orphans.append(key)
            unmeasured[key] = "the pod has no owner"
        elif owner[0] not in OWNERS or (stop and owner[0] == "DaemonSet"):
            others.append(f"{key} ({owner[0]} {owner[1]})")
            unmeasured[key] = f"seal does not follow its owner, {owner[0]} {owner[1]}"
        else:
            owners[(str(meta.get("namespace")), *owner)] = None
    notes = []
    if orphans:
        notes.append(
            f"recovery not measured for {len(orphans)} pod(s) with no owner (no ReplicaSet, "
            f"StatefulSet or DaemonSet brings them back): {', '.join(orphans[:5])}"
        )
    if others:
        notes.append(
            f"recovery not measured for {len(others)} pod(s) whose owner seal does not "
            f"follow{' (a DaemonSet comes back with its node)' if stop else ''}: "
            + ", ".join(others[:5])
        )
    return owners, notes


@dataclass(frozen=True)
class _Namespace:
    pods: list[Obj]
    services: list[Obj]
    endpoints: dict[str, Obj]


def _read(ctx: StepContext, namespace: str, services: bool = True) -> _Namespace:
    kube = ctx.kube
    endpoints = {str(e.get("metadata", {}).get("name")): e for e in kube.list_endpoints(namespace)}
    return _Namespace(
        kube.list_pod_objects(namespace),
        kube.list_service_objects(namespace) if services else [],
        endpoints,
    )


def _services(seen: _Namespace, hit: Sequence[Obj]) -> list[Watched]:
    """The Services of a namespace whose selector picks one of the affected pods."""
    watched = []
    for service in seen.services:
        raw = service.get("spec", {}).get("selector") or {}
        if not raw:
            continue
        selector = selector_from_match(raw)
        if any(selector.matches(p.get("metadata", {}).get("labels") or {}) for p in hit):
            name = str(service.get("metadata", {}).get("name"))
            namespace = str(service.get("metadata", {}).get("namespace"))
            count = _endpoints(seen.endpoints.get(name), frozenset())
            watched.append(Watched("service", namespace, name, count))
    return watched


def baseline(
    ctx: StepContext, pods: Sequence[Pod], down_nodes: frozenset[str] = frozenset()
) -> Baseline:
    """What is whole now among the workloads and Services of `pods` (read before acting;
    `down_nodes`: the nodes about to be stopped). `StepFailed` when it cannot be read:
    nothing is done then, as the recovery asked for could not be measured."""
    namespaces = sorted({p.namespace for p in pods})
    keys = {p.key for p in pods}
    unmeasured: dict[str, str] = {}
    try:
        seen = dict(
            zip(namespaces, _parallel(ctx, namespaces, lambda ns: _read(ctx, ns)), strict=True)
        )
        hit = {
            ns: [o for o in seen[ns].pods if f"{ns}/{o.get('metadata', {}).get('name')}" in keys]
            for ns in namespaces
        }
        affected = [o for ns in namespaces for o in hit[ns]]
        owners, notes = _owners(affected, bool(down_nodes), unmeasured)
        found = _parallel(ctx, list(owners), lambda o: _workload(ctx, *o))
    except (KubeError, SelectorError) as exc:
        raise StepFailed(
            f"cannot read what to measure the recovery of, so nothing was done: {exc}"
        ) from exc
    watched: list[Watched] = []
    for (namespace, _, _), (kind, obj) in zip(owners, found, strict=True):
        name = str(obj.get("metadata", {}).get("name"))
        if any(w.kind == kind and w.namespace == namespace and w.name == name for w in watched):
            continue
        selector = _selector(obj)
        before = sum(
            1
            for pod in seen[namespace].pods
            if selector.matches(pod.get("metadata", {}).get("labels") or {})
            and _ready(pod, frozenset())
        )
        watched.append(Watched(kind, namespace, name, before, selector))
    for namespace in namespaces:
        watched += _services(seen[namespace], hit[namespace])
    for note in notes:
        log.warning("%s", note)
    return Baseline(tuple(watched), tuple(notes), down_nodes, unmeasured)


def behind(ctx: StepContext, base: Baseline) -> list[str]:
    """What has not recovered yet ("deployment shop/web: 2 of 3 Ready"); [] when all has."""
    namespaces = base.namespaces
    seen = dict(
        zip(namespaces, _parallel(ctx, namespaces, lambda ns: _read(ctx, ns, False)), strict=True)
    )
    late = []
    for watched in base.watched:
        here = seen[watched.namespace]
        if watched.selector is not None:
            now = sum(
                1
                for pod in here.pods
                if watched.selector.matches(pod.get("metadata", {}).get("labels") or {})
                and _ready(pod, base.down_nodes)
            )
        else:
            now = _endpoints(here.endpoints.get(watched.name), base.down_nodes)
        if now < watched.before:
            late.append(watched.describe(now))
    return late


@dataclass(frozen=True)
class Recovery:
    """How a wait for recovery ended: the seconds it took, or why it failed."""

    seconds: float | None
    failure: str = ""


def wait(
    ctx: StepContext, base: Baseline, within: float, started: float, label: str, what: str
) -> Recovery:
    """Poll until everything in `base` is whole again, for at most `within` seconds from
    `started` (the clock's monotonic time when the action began)."""
    if not base.watched:
        return Recovery(None)
    clock = ctx.clock
    interval = min(1.0, max(0.1, within / 20))
    last: list[str] = []
    for _ in range(MAX_CHECKS):
        try:
            last = behind(ctx, base)
        except KubeError as exc:
            last = [f"could not read the cluster: {exc}"]
        now = clock.monotonic()
        if not last:
            took = now - started
            ctx.metrics.recovery_seconds(ctx.scenario, label, took)
            log.info(
                "%s: recovered after %.1fs: %s",
                what,
                took,
                base.describe(),
                extra={"action": "recovery", "outcome": "success"},
            )
            return Recovery(took)
        remaining = started + within - now
        if remaining <= 0:
            break
        clock.sleep(min(interval, remaining))
    waited = clock.monotonic() - started
    failure = f"{what}: not recovered within {within:g} s (after {waited:.1f} s): " + "; ".join(
        last
    )
    log.warning("%s", failure, extra={"action": "recovery", "outcome": "failed"})
    return Recovery(None, failure)


def pods_on(ctx: StepContext, nodes: Sequence[str]) -> list[Pod]:
    """The pods on these nodes now (one LIST of every namespace's pods)."""
    wanted = set(nodes)
    try:
        return [p for p in ctx.kube.list_pods(None) if p.node_name in wanted]
    except KubeError as exc:
        raise StepFailed(
            f"cannot list the pods on {', '.join(sorted(wanted))} to measure their recovery, "
            f"so nothing was done: {exc}"
        ) from exc


def settle(
    ctx: StepContext,
    base: Baseline,
    within: float,
    started: float,
    where: tuple[str, str, Location],
    report: StepReport | None,
) -> None:
    """Wait for the recovery of `base` after an action (`where`: the step's key, the
    action's and its location, for the metric's `step` label and the messages), and put
    what came of it in the step's report; without one, a recovery too slow raises
    `StepFailed`."""
    key, action, location = where
    what = f"{action} (line {location.line})"
    result = wait(ctx, base, within, started, f"{key}@line{location.line}", what)
    if report is None:
        if result.failure:
            raise StepFailed(result.failure)
        return
    report.notes += [n for n in base.notes if n not in report.notes]
    if result.seconds is not None:
        report.recovered(result.seconds)
    if result.failure:
        report.failure = result.failure


def api_calls(namespaces: Sequence[str | None]) -> list[ApiCall]:
    """What measuring a recovery reads in these namespaces (None: in every namespace)."""
    calls = []
    for namespace in namespaces:
        calls += [
            ApiCall("get", resource, "apps", namespace=namespace)
            for resource in (*OWNERS.values(), "deployments")
        ]
        calls += [
            ApiCall("list", resource, namespace=namespace)
            for resource in ("pods", "services", "endpoints")
        ]
    return calls

"""The cluster's behaviour: scheduling, pod lifecycle, endpoints, cluster IPs, node health.

Runs on the sandbox's event loop; reacts to store events and reconciles on a short tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import ipaddress
import logging
import random

from sandbox import events
from sandbox.disruption import budget_status
from sandbox.machines import Machine, Machines
from sandbox.podutil import fits, node_ready, owner_uids, pod_terminating, set_condition
from sandbox.store import FOREGROUND, ApiError, Obj, Store, now_rfc3339
from sandbox.timing import SandboxTiming
from sandbox.workloads import Workloads
from seal.labels import selector_from_match

log = logging.getLogger(__name__)
SERVICE_NETWORK = ipaddress.ip_network("127.10.0.0/16")
POD_NETWORK = ipaddress.ip_network("127.20.0.0/14")
#: what the namespace controller deletes, owners before what they own
NAMESPACED_CONTENT = (
    "deployments",
    "replicasets",
    "pods",
    "services",
    "endpoints",
    "configmaps",
    "leases",
    "poddisruptionbudgets",
)
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


def _stamp(text: object) -> float:
    """Seconds since the epoch of an RFC 3339 time; 0 when there is none or it is bad."""
    if not isinstance(text, str):
        return 0.0
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class Simulation:
    def __init__(
        self, store: Store, machines: Machines, timing: SandboxTiming, rng: random.Random
    ) -> None:
        self.store = store
        self.machines = machines
        self.timing = timing
        self.rng = rng
        self.workloads = Workloads(store, rng)
        self.dirty_deployments: set[tuple[str, str]] = set()
        self.dirty_replicasets: set[tuple[str, str]] = set()
        self.dirty_namespaces: set[str] = set()
        #: owners deleted in the foreground, waiting for their dependents to go
        self.foreground: set[tuple[str, str, str]] = set()
        #: namespaces being deleted, whose contents the namespace controller deletes
        self.terminating: set[str] = set()
        #: pods whose containers are being stopped (told once, as "Killing")
        self._stopping: set[str] = set()
        self.pending: set[tuple[str, str]] = set()
        self.gone_owners: set[str] = set()
        self.pods_per_node: dict[str, int] = {}
        self._used_cluster_ips: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        machines.on_change = self._machine_changed

    # ---------------------------------------------------------------- start/stop
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for _, entry in self.store.entries("pods"):
            self.workloads.index("ADDED", entry.obj)
            node = entry.obj.get("spec", {}).get("nodeName")
            if node:
                self.pods_per_node[node] = self.pods_per_node.get(node, 0) + 1
            elif not pod_terminating(entry.obj):
                self.pending.add(self._key(entry.obj))
        for _, entry in self.store.entries("replicasets"):
            self.workloads.index("ADDED", entry.obj)
        for _, entry in self.store.entries("services"):
            ip = entry.obj.get("spec", {}).get("clusterIP")
            if ip:
                self._used_cluster_ips.add(ip)
        self.store.subscribe(self.on_event)
        self._task = loop.create_task(self._run())
        self._expire_events()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        reported: set[str] = set()
        while True:
            try:
                self.tick()
            except ApiError as exc:  # a race with a client; the next tick retries
                log.debug("reconcile conflict: %s", exc)
            except Exception as exc:  # the controllers must outlive any object
                text = f"{type(exc).__name__}: {exc}"
                if text not in reported and len(reported) < 100:
                    reported.add(text)
                    log.warning("a controller failed and will try again: %s", text, exc_info=True)
            await asyncio.sleep(self.timing.tick_seconds)

    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def later(self, seconds: float, callback: object, *args: object) -> None:
        assert self._loop is not None
        self._loop.call_later(seconds, callback, *args)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- events
    def on_event(self, event_type: str, resource: str, obj: Obj) -> None:
        key = self._key(obj)
        if event_type == "MODIFIED" and FOREGROUND in (obj["metadata"].get("finalizers") or []):
            self.foreground.add((resource, *key))
        deleting = obj["metadata"].get("deletionTimestamp")
        if resource == "namespaces" and event_type == "MODIFIED" and deleting:
            self.terminating.add(key[1])
        if resource == "pods":
            self._pod_event(event_type, obj, key)
        elif resource == "replicasets":
            self.workloads.index(event_type, obj)
            self.dirty_replicasets.add(key)
            for owner in obj["metadata"].get("ownerReferences") or []:
                self.dirty_deployments.add((key[0], owner.get("name", "")))
            if event_type == "DELETED":
                self.gone_owners.add(obj["metadata"]["uid"])
        elif resource == "deployments":
            self.dirty_deployments.add(key)
            if event_type == "DELETED":
                self.gone_owners.add(obj["metadata"]["uid"])
        elif resource == "services":
            if event_type == "ADDED" and not obj.get("spec", {}).get("clusterIP"):
                self.later(0, self._assign_cluster_ip, key)
            if event_type == "DELETED":
                self._used_cluster_ips.discard(obj.get("spec", {}).get("clusterIP", ""))
                self.later(0, self._drop_endpoints, key)
            self.dirty_namespaces.add(key[0])
        elif resource == "poddisruptionbudgets" and event_type != "DELETED":
            self.dirty_namespaces.add(key[0])

    def _pod_event(self, event_type: str, pod: Obj, key: tuple[str, str]) -> None:
        self.workloads.index(event_type, pod)
        node = pod.get("spec", {}).get("nodeName")
        for owner in pod["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == "ReplicaSet":
                self.dirty_replicasets.add((key[0], owner.get("name", "")))
        self.dirty_namespaces.add(key[0])
        if event_type == "DELETED":
            self.pending.discard(key)
            self._stopping.discard(pod["metadata"]["uid"])
            if node:
                self.pods_per_node[node] = max(0, self.pods_per_node.get(node, 1) - 1)
            return
        if event_type == "ADDED" and not node:
            self.pending.add(key)
        if pod_terminating(pod):
            self.pending.discard(key)
            if node and pod["metadata"]["uid"] not in self._stopping:
                self._stopping.add(pod["metadata"]["uid"])
                # Written from the loop, not from within the store's notification.
                self.later(
                    0,
                    lambda: events.record(
                        self.store,
                        pod,
                        "Killing",
                        f"Stopping container {', '.join(events.containers(pod))}",
                        component="kubelet",
                        host=node,
                    ),
                )
            grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
            delay = min(grace, self.timing.pod_stop_seconds)
            self.later(delay, self._finish_deletion, key, pod["metadata"]["uid"])

    # ---------------------------------------------------------------- tick
    def tick(self) -> None:
        if self.terminating:
            for namespace in sorted(self.terminating):
                self._empty_namespace(namespace)
        if self.foreground:
            waiting, self.foreground = self.foreground, set()
            for resource, namespace, name in waiting:
                self._delete_in_foreground(resource, namespace, name)
        if self.gone_owners:
            gone, self.gone_owners = self.gone_owners, set()
            self.workloads.collect(gone)
        while self.dirty_deployments:
            self.workloads.sync_deployment(*self.dirty_deployments.pop())
        while self.dirty_replicasets:
            self.workloads.sync_replicaset(*self.dirty_replicasets.pop())
        if self.pending:
            self._schedule()
        if self.dirty_namespaces:
            namespaces, self.dirty_namespaces = self.dirty_namespaces, set()
            for namespace in namespaces - {""}:
                self._sync_endpoints(namespace)
                self._sync_budgets(namespace)

    # ---------------------------------------------------------------- scheduling
    def _schedule(self) -> None:
        nodes = [e.obj for _, e in self.store.entries("nodes")]
        for key in sorted(self.pending):
            pod = self.store.peek("pods", *key)
            if pod is None or pod_terminating(pod) or pod.get("spec", {}).get("nodeName"):
                self.pending.discard(key)
                continue
            candidates = [n for n in nodes if fits(pod, n)]
            if not candidates:
                if pod.get("status", {}).get("conditions") is None:
                    self._mark_unschedulable(key)
                continue
            node = min(
                candidates,
                key=lambda n: (
                    self.pods_per_node.get(n["metadata"]["name"], 0),
                    n["metadata"]["name"],
                ),
            )
            self._bind(key, node)
            self.pending.discard(key)

    def _mark_unschedulable(self, key: tuple[str, str]) -> None:
        def change(pod: Obj) -> None:
            set_condition(
                pod,
                "PodScheduled",
                "False",
                "Unschedulable",
                "0/N nodes are available: no node fits the pod",
            )

        pod = self.store.mutate("pods", *key, change)
        events.record(
            self.store,
            pod,
            "FailedScheduling",
            "0/N nodes are available: no node fits the pod",
            component="default-scheduler",
            warning=True,
        )

    def _bind(self, key: tuple[str, str], node: Obj) -> None:
        name = node["metadata"]["name"]
        host_ip = next(
            (
                a["address"]
                for a in node.get("status", {}).get("addresses", [])
                if a.get("type") == "InternalIP"
            ),
            "",
        )

        def bind(pod: Obj) -> None:
            pod["spec"]["nodeName"] = name
            status = pod.setdefault("status", {})
            status.update({"phase": "Pending", "hostIP": host_ip})
            set_condition(pod, "PodScheduled", "True")

        pod = self.store.mutate("pods", *key, bind)
        events.record(
            self.store,
            pod,
            "Scheduled",
            f"Successfully assigned {key[0]}/{key[1]} to {name}",
            component="default-scheduler",
        )
        self.pods_per_node[name] = self.pods_per_node.get(name, 0) + 1
        self.later(self.timing.pod_start_seconds, self._start_pod, key, pod["metadata"]["uid"])

    def _start_pod(self, key: tuple[str, str], uid: str) -> None:
        pod = self.store.peek("pods", *key)
        if pod is None or pod["metadata"]["uid"] != uid or pod_terminating(pod):
            return
        machine = self._machine_of_node(pod["spec"].get("nodeName", ""))
        if machine is not None and not machine.running:
            return
        ip = self.next_pod_ip()

        def run(pod: Obj) -> None:
            status = pod.setdefault("status", {})
            started = now_rfc3339()
            status.update(
                {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": started}
            )
            status["containerStatuses"] = [
                {
                    "name": c.get("name", "main"),
                    "ready": True,
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": "",
                    "started": True,
                    "state": {"running": {"startedAt": started}},
                }
                for c in pod.get("spec", {}).get("containers") or []
            ]
            for kind in ("Initialized", "ContainersReady", "Ready"):
                set_condition(pod, kind, "True")

        try:
            started = self.store.mutate("pods", *key, run)
        except ApiError:
            return
        events.record(
            self.store,
            started,
            "Started",
            f"Started container {', '.join(events.containers(started))}",
            component="kubelet",
            host=started["spec"].get("nodeName", ""),
        )

    def next_pod_ip(self) -> str:
        offset = self.rng.randrange(2, POD_NETWORK.num_addresses - 2)
        return str(POD_NETWORK.network_address + offset)

    def _delete_in_foreground(self, resource: str, namespace: str, name: str) -> None:
        """The garbage collector's foreground deletion: dependents first, then the owner."""
        owner = self.store.peek(resource, namespace, name)
        if owner is None or FOREGROUND not in (owner["metadata"].get("finalizers") or []):
            return
        uid = owner["metadata"]["uid"]
        dependents = [
            (plural, obj)
            for plural in ("replicasets", "pods")
            for key in list(self.workloads.children.get(uid, ()))
            if (obj := self.store.peek(plural, *key)) is not None and uid in owner_uids(obj)
        ]
        for plural, obj in dependents:
            if not obj["metadata"].get("deletionTimestamp"):
                with contextlib.suppress(ApiError):
                    self.store.delete(
                        plural,
                        obj["metadata"]["namespace"],
                        obj["metadata"]["name"],
                        propagation_policy="Foreground",
                    )
        if dependents:
            self.foreground.add((resource, namespace, name))  # look again next tick
            return
        finalizers = [f for f in owner["metadata"]["finalizers"] if f != FOREGROUND]
        self.store.mutate(
            resource, namespace, name, lambda o: o["metadata"].__setitem__("finalizers", finalizers)
        )

    def _empty_namespace(self, namespace: str) -> None:
        """The namespace controller: delete what a Terminating namespace holds (pods get
        their grace period, finalizers are honoured), then let the namespace go."""
        for plural in NAMESPACED_CONTENT:
            for _, entry in list(self.store.entries(plural, namespace)):
                if not entry.obj["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(ApiError):
                        self.store.delete(plural, namespace, entry.obj["metadata"]["name"])
        if (
            self.store.finish_namespace(namespace)
            or self.store.peek("namespaces", "", namespace) is None
        ):
            self.terminating.discard(namespace)

    def _expire_events(self) -> None:
        """Events older than the TTL go, as the API server drops them; checked every
        tenth of the TTL (at most every minute)."""
        cutoff = self.store.clock() - self.timing.event_ttl_seconds
        old = [
            key
            for key, entry in self.store.entries("events")
            if max(
                _stamp(entry.obj.get("lastTimestamp")),
                _stamp(entry.obj.get("eventTime")),
                _stamp(entry.obj["metadata"].get("creationTimestamp")),
            )
            < cutoff
        ]
        for namespace, name in old:
            self.store.remove("events", namespace, name)
        self.later(min(60.0, self.timing.event_ttl_seconds / 10), self._expire_events)

    def _finish_deletion(self, key: tuple[str, str], uid: str) -> None:
        pod = self.store.peek("pods", *key)
        if pod is not None and pod["metadata"]["uid"] == uid and pod_terminating(pod):
            self.store.finish_graceful_deletion("pods", *key)

    # ---------------------------------------------------------------- services
    def _assign_cluster_ip(self, key: tuple[str, str]) -> None:
        service = self.store.peek("services", *key)
        if service is None or service.get("spec", {}).get("clusterIP"):
            return
        for _ in range(1000):
            offset = self.rng.randrange(2, SERVICE_NETWORK.num_addresses - 2)
            ip = str(SERVICE_NETWORK.network_address + offset)
            if ip not in self._used_cluster_ips:
                break
        self._used_cluster_ips.add(ip)

        def assign(obj: Obj) -> None:
            obj["spec"]["clusterIP"] = ip
            obj["spec"]["clusterIPs"] = [ip]
            obj["spec"].setdefault("type", "ClusterIP")

        self.store.mutate("services", *key, assign)

    def _drop_endpoints(self, key: tuple[str, str]) -> None:
        if self.store.peek("endpoints", *key) is not None:
            self.store.remove("endpoints", *key)

    def _sync_budgets(self, namespace: str) -> None:
        """The disruption controller: each budget's status follows its pods."""
        budgets = [e.obj for _, e in self.store.entries("poddisruptionbudgets", namespace)]
        for budget in budgets:
            status = budget_status(self.store, budget)
            if budget.get("status") != status:
                updated = copy.deepcopy(budget)
                updated["status"] = status
                self.store.update("poddisruptionbudgets", updated, status_only=True)

    def _sync_endpoints(self, namespace: str) -> None:
        home = self.store.peek("namespaces", "", namespace)
        if home is None or home["metadata"].get("deletionTimestamp"):
            return
        services = [e.obj for _, e in self.store.entries("services", namespace)]
        if not services:
            return
        pods = [e.obj for _, e in self.store.entries("pods", namespace)]
        for service in services:
            raw = service.get("spec", {}).get("selector")
            if not raw:
                continue
            selector = selector_from_match(raw)
            addresses = [
                {
                    "ip": p["status"]["podIP"],
                    "nodeName": p["spec"].get("nodeName"),
                    "targetRef": {
                        "kind": "Pod",
                        "name": p["metadata"]["name"],
                        "namespace": namespace,
                        "uid": p["metadata"]["uid"],
                    },
                }
                for p in pods
                if selector.matches(p["metadata"].get("labels") or {})
                and not pod_terminating(p)
                and any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in p.get("status", {}).get("conditions") or []
                )
                and p.get("status", {}).get("podIP")
            ]
            ports = [
                {
                    "name": p.get("name", ""),
                    "port": p.get("targetPort", p.get("port")),
                    "protocol": p.get("protocol", "TCP"),
                }
                for p in service.get("spec", {}).get("ports") or []
            ]
            subsets = [{"addresses": addresses, "ports": ports}] if addresses else []
            self._write_endpoints(service, subsets)

    def _write_endpoints(self, service: Obj, subsets: list[Obj]) -> None:
        namespace, name = self._key(service)
        current = self.store.peek("endpoints", namespace, name)
        if current is None:
            self.store.create(
                "endpoints",
                {
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": dict(service["metadata"].get("labels") or {}),
                    },
                    "subsets": subsets,
                },
            )
        elif current.get("subsets") != subsets:
            updated = copy.deepcopy(current)
            updated["subsets"] = subsets
            updated["metadata"].pop("resourceVersion", None)
            self.store.update("endpoints", updated)

    # ---------------------------------------------------------------- machines
    def _machine_of_node(self, node_name: str) -> Machine | None:
        return next((m for m in self.machines.by_id.values() if m.node_name == node_name), None)

    def _machine_changed(self, machine: Machine) -> None:
        if machine.running:
            self.later(self.timing.node_ready_seconds, self._node_up, machine.id)
        else:
            self.later(self.timing.node_not_ready_seconds, self._node_down, machine.id)

    def _node_down(self, machine_id: str) -> None:
        machine = self.machines.by_id[machine_id]
        if machine.running:
            return

        def down(node: Obj) -> None:
            set_condition(
                node,
                "Ready",
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            )
            taints = node.setdefault("spec", {}).setdefault("taints", [])
            if not any(t.get("key") == UNREACHABLE["key"] for t in taints):
                taints.append({**UNREACHABLE, "timeAdded": now_rfc3339()})

        node = self.store.mutate("nodes", "", machine.node_name, down)
        events.record(
            self.store,
            node,
            "NodeNotReady",
            f"Node {machine.node_name} status is now: NodeNotReady",
            component="node-controller",
        )
        self.later(self.timing.pod_eviction_seconds, self._evict_node, machine_id)

    def _evict_node(self, machine_id: str) -> None:
        machine = self.machines.by_id[machine_id]
        if machine.running:
            return
        for _, entry in list(
            self.store.entries("pods", field_selector=f"spec.nodeName={machine.node_name}")
        ):
            meta = entry.obj["metadata"]
            if not pod_terminating(entry.obj):
                self.store.delete("pods", meta["namespace"], meta["name"])

    def _node_up(self, machine_id: str) -> None:
        machine = self.machines.by_id[machine_id]
        if not machine.running:
            return

        def up(node: Obj) -> None:
            set_condition(node, "Ready", "True", "KubeletReady", "kubelet is posting ready status")
            taints = [
                t
                for t in node.get("spec", {}).get("taints") or []
                if t.get("key") != UNREACHABLE["key"]
            ]
            node.setdefault("spec", {})["taints"] = taints

        node = self.store.mutate("nodes", "", machine.node_name, up)
        events.record(
            self.store,
            node,
            "NodeReady",
            f"Node {machine.node_name} status is now: NodeReady",
            component="kubelet",
            host=machine.node_name,
        )
        for _, entry in self.store.entries(
            "pods", field_selector=f"spec.nodeName={machine.node_name}"
        ):
            if entry.obj.get("status", {}).get("phase") == "Pending":
                self.later(
                    self.timing.pod_start_seconds,
                    self._start_pod,
                    self._key(entry.obj),
                    entry.obj["metadata"]["uid"],
                )

    def node_is_ready(self, name: str) -> bool:
        node = self.store.peek("nodes", "", name)
        return node is not None and node_ready(node)

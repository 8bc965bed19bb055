"""The scheduler: pending pods go to Ready, schedulable nodes that fit them (nodeSelector,
taints), the least loaded first; pods that fit nowhere stay Pending, marked. No I/O."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import orjson

from sandbox.controllers import events
from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.podutil import fits, pod_terminating, set_condition
from sandbox.store import Obj

UNSCHEDULABLE = "0/N nodes are available: no node fits the pod"


def _constraints(pod: Obj) -> str:
    """What decides where a pod fits: pods alike share their candidate nodes."""
    spec = pod.get("spec", {})
    wanted = [spec.get("nodeSelector"), spec.get("tolerations")]
    return orjson.dumps(wanted, option=orjson.OPT_SORT_KEYS).decode()


class _Choice:
    """The nodes a kind of pod fits on, as a heap by (pods on the node, name), kept across
    ticks. Every change of a node's count pushes its new entry; entries whose count is no
    longer the node's are dropped when they come to the top."""

    def __init__(self, names: list[str], counts: dict[str, int]) -> None:
        self.counts = counts
        self.members = set(names)
        self._rebuild()

    def _rebuild(self) -> None:
        self.heap = [(self.counts.get(name, 0), name) for name in self.members]
        heapq.heapify(self.heap)

    def best(self) -> str | None:
        while self.heap:
            count, name = self.heap[0]
            if count == self.counts.get(name, 0):
                return name
            heapq.heappop(self.heap)
        return None

    def changed(self, name: str) -> None:
        if name in self.members:
            heapq.heappush(self.heap, (self.counts.get(name, 0), name))
            if len(self.heap) > 4 * len(self.members) + 64:
                self._rebuild()


class Scheduler(Controller):
    def __init__(self, context: Context, bound: Callable[[Key, str], None]) -> None:
        super().__init__(context)
        #: called with a pod's key and uid once it is bound to a node
        self.bound = bound
        self.pending: set[Key] = set()
        self.pods_per_node: dict[str, int] = {}
        #: the nodes by name, and per kind of pod the nodes it fits on; both forgotten
        #: whenever a node changes
        self._nodes: dict[str, Obj] | None = None
        self._choices: dict[str, _Choice] = {}

    def seed(self) -> None:
        for _, entry in self.store.entries("pods"):
            node = entry.obj.get("spec", {}).get("nodeName")
            if node:
                self.pods_per_node[node] = self.pods_per_node.get(node, 0) + 1
            elif not pod_terminating(entry.obj):
                self.pending.add(key_of(entry.obj))

    RESOURCES = frozenset({"nodes", "pods"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "nodes":
            self._nodes, self._choices = None, {}
        if resource != "pods":
            return
        key = key_of(obj)
        node = obj.get("spec", {}).get("nodeName")
        if event_type == "DELETED":
            self.pending.discard(key)
            if node:
                self._count(node, max(0, self.pods_per_node.get(node, 1) - 1))
            return
        if event_type == "ADDED" and not node:
            self.pending.add(key)
        if pod_terminating(obj):
            self.pending.discard(key)

    def reconcile(self) -> None:
        if not self.pending:
            return
        if self._nodes is None:
            self._nodes = {e.obj["metadata"]["name"]: e.obj for _, e in self.store.entries("nodes")}
        nodes = self._nodes
        for key in sorted(self.pending):
            pod = self.store.peek("pods", *key)
            if pod is None or pod_terminating(pod) or pod.get("spec", {}).get("nodeName"):
                self.pending.discard(key)
                continue
            name = self._choice(pod, nodes).best()
            if name is None:
                if pod.get("status", {}).get("conditions") is None:
                    self._mark_unschedulable(key)
                continue
            self._bind(key, nodes[name])
            self.pending.discard(key)

    def _choice(self, pod: Obj, nodes: dict[str, Obj]) -> _Choice:
        constraints = _constraints(pod)
        choice = self._choices.get(constraints)
        if choice is None:
            fitting = [name for name, node in nodes.items() if fits(pod, node)]
            choice = self._choices[constraints] = _Choice(fitting, self.pods_per_node)
        return choice

    def _count(self, node: str, count: int) -> None:
        self.pods_per_node[node] = count
        for choice in self._choices.values():
            choice.changed(node)

    def _mark_unschedulable(self, key: Key) -> None:
        def change(pod: Obj) -> None:
            set_condition(pod, "PodScheduled", "False", "Unschedulable", UNSCHEDULABLE)

        pod = self.store.mutate("pods", *key, change)
        events.record(
            self.store,
            pod,
            "FailedScheduling",
            UNSCHEDULABLE,
            component="default-scheduler",
            warning=True,
        )

    def _bind(self, key: Key, node: Obj) -> None:
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
        self._count(name, self.pods_per_node.get(name, 0) + 1)
        self.bound(key, pod["metadata"]["uid"])

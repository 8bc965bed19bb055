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
    """The nodes a kind of pod fits on, as a heap by (pods on the node, name). Counts only
    grow while the scheduler places pods, so a stale entry is put back with its count."""

    def __init__(self, nodes: list[Obj], pods_per_node: dict[str, int]) -> None:
        self.counts = pods_per_node
        self.nodes = {n["metadata"]["name"]: n for n in nodes}
        self.heap = [(pods_per_node.get(name, 0), name) for name in self.nodes]
        heapq.heapify(self.heap)

    def best(self) -> Obj | None:
        while self.heap:
            count, name = self.heap[0]
            current = self.counts.get(name, 0)
            if current == count:
                return self.nodes[name]
            heapq.heapreplace(self.heap, (current, name))
        return None

    def placed(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        heapq.heapreplace(self.heap, (self.counts.get(name, 0), name))


class Scheduler(Controller):
    def __init__(self, context: Context, bound: Callable[[Key, str], None]) -> None:
        super().__init__(context)
        #: called with a pod's key and uid once it is bound to a node
        self.bound = bound
        self.pending: set[Key] = set()
        self.pods_per_node: dict[str, int] = {}

    def seed(self) -> None:
        for _, entry in self.store.entries("pods"):
            node = entry.obj.get("spec", {}).get("nodeName")
            if node:
                self.pods_per_node[node] = self.pods_per_node.get(node, 0) + 1
            elif not pod_terminating(entry.obj):
                self.pending.add(key_of(entry.obj))

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource != "pods":
            return
        key = key_of(obj)
        node = obj.get("spec", {}).get("nodeName")
        if event_type == "DELETED":
            self.pending.discard(key)
            if node:
                self.pods_per_node[node] = max(0, self.pods_per_node.get(node, 1) - 1)
            return
        if event_type == "ADDED" and not node:
            self.pending.add(key)
        if pod_terminating(obj):
            self.pending.discard(key)

    def reconcile(self) -> None:
        if not self.pending:
            return
        nodes = [e.obj for _, e in self.store.entries("nodes")]
        #: per scheduling constraints, the nodes that fit, least loaded first
        choices: dict[str, _Choice] = {}
        for key in sorted(self.pending):
            pod = self.store.peek("pods", *key)
            if pod is None or pod_terminating(pod) or pod.get("spec", {}).get("nodeName"):
                self.pending.discard(key)
                continue
            constraints = _constraints(pod)
            choice = choices.get(constraints)
            if choice is None:
                choice = choices[constraints] = _Choice(
                    [n for n in nodes if fits(pod, n)], self.pods_per_node
                )
            node = choice.best()
            if node is None:
                if pod.get("status", {}).get("conditions") is None:
                    self._mark_unschedulable(key)
                continue
            self._bind(key, node)
            choice.placed(node)
            self.pending.discard(key)

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
        self.pods_per_node[name] = self.pods_per_node.get(name, 0) + 1
        self.bound(key, pod["metadata"]["uid"])

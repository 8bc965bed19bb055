"""The scheduler: pending pods go to Ready, schedulable nodes that fit them (nodeSelector,
taints), the least loaded first; pods that fit nowhere stay Pending, marked. No I/O."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.controllers import events
from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.podutil import fits, pod_terminating, set_condition
from sandbox.store import Obj

UNSCHEDULABLE = "0/N nodes are available: no node fits the pod"


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

"""The node lifecycle: a stopped machine's node turns NotReady (tainted unreachable), then
its pods are evicted and replaced elsewhere; a started machine's node turns Ready again and
its pending pods start. No I/O."""

from __future__ import annotations

from sandbox.controllers import events
from sandbox.controllers.base import Context, Controller, key_of
from sandbox.controllers.index import NodeIndex
from sandbox.controllers.kubelet import Kubelet
from sandbox.machines import Machine
from sandbox.podutil import pod_terminating, set_condition, tolerates
from sandbox.store import Obj, now_rfc3339

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


class NodeLifecycle(Controller):
    RESOURCES: frozenset[str] = frozenset()  # told of machines' changes, not the store's

    def __init__(self, context: Context, kubelet: Kubelet, pods: NodeIndex) -> None:
        super().__init__(context)
        self.kubelet = kubelet
        self.pods = pods
        self.machines = context.machines

    def seed(self) -> None:
        self.machines.on_change = self.machine_changed

    def machine_changed(self, machine: Machine) -> None:
        timing = self.context.timing
        if machine.running:
            self.context.later(timing.node_ready_seconds, self._node_up, machine.id)
        else:
            self.context.later(timing.node_not_ready_seconds, self._node_down, machine.id)

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
        self.context.later(self.context.timing.pod_eviction_seconds, self._evict, machine_id)

    def _evict(self, machine_id: str) -> None:
        machine = self.machines.by_id[machine_id]
        if machine.running:
            return
        for pod in self.pods.pods_on(machine.node_name):
            meta = pod["metadata"]
            # Pods that tolerate an unreachable node (as DaemonSets' do) stay.
            if not pod_terminating(pod) and not tolerates(pod, UNREACHABLE):
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
        for pod in self.pods.pods_on(machine.node_name):
            if pod.get("status", {}).get("phase", "Pending") == "Pending":
                self.kubelet.start_later(key_of(pod), pod["metadata"]["uid"])

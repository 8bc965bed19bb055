"""The kubelets: a bound pod's containers start after a short latency (Running, Ready, a
pod IP); a deleted pod's containers stop within its grace period, then it goes. A pod on a
stopped machine does not start. No I/O."""

from __future__ import annotations

import ipaddress

from sandbox.controllers import events
from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.machines import Machine
from sandbox.podutil import pod_terminating, set_condition
from sandbox.store import ApiError, Obj, now_rfc3339

POD_NETWORK = ipaddress.ip_network("127.20.0.0/14")


class Kubelet(Controller):
    def __init__(self, context: Context) -> None:
        super().__init__(context)
        #: pods whose containers are being stopped (told once, as "Killing")
        self.stopping: set[str] = set()

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource != "pods":
            return
        uid = obj["metadata"]["uid"]
        if event_type == "DELETED":
            self.stopping.discard(uid)
            return
        if not pod_terminating(obj):
            return
        node = obj.get("spec", {}).get("nodeName")
        if node and uid not in self.stopping:
            self.stopping.add(uid)
            # Written from the loop, not from within the store's notification.
            self.context.later(0, self._killing, obj, node)
        grace = float(obj["metadata"].get("deletionGracePeriodSeconds") or 0)
        delay = min(grace, self.context.timing.pod_stop_seconds)
        self.context.later(delay, self._finish_deletion, key_of(obj), uid)

    def start_later(self, key: Key, uid: str) -> None:
        """Start the pod's containers after the start latency (if it is still there)."""
        self.context.later(self.context.timing.pod_start_seconds, self.start, key, uid)

    def start(self, key: Key, uid: str) -> None:
        pod = self.store.peek("pods", *key)
        if pod is None or pod["metadata"]["uid"] != uid or pod_terminating(pod):
            return
        machine = self.machine_of(pod["spec"].get("nodeName", ""))
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
        events.container_started(self.store, started)

    def next_pod_ip(self) -> str:
        offset = self.context.rng.randrange(2, POD_NETWORK.num_addresses - 2)
        return str(POD_NETWORK.network_address + offset)

    def machine_of(self, node_name: str) -> Machine | None:
        return self.context.machines.by_node.get(node_name)

    def _killing(self, pod: Obj, node: str) -> None:
        events.record(
            self.store,
            pod,
            "Killing",
            f"Stopping container {', '.join(events.containers(pod))}",
            component="kubelet",
            host=node,
        )

    def _finish_deletion(self, key: Key, uid: str) -> None:
        pod = self.store.peek("pods", *key)
        if pod is not None and pod["metadata"]["uid"] == uid and pod_terminating(pod):
            self.store.finish_graceful_deletion("pods", *key)

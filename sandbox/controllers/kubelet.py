"""The kubelets: a bound pod's containers start after a short latency (Running, Ready, a
pod IP); a deleted pod's containers stop within its grace period, then it goes. A pod on a
stopped machine does not start. A pod that runs to completion (`restartPolicy: Never`
and a command) runs its command, with the result `sandbox.executions` gives it, and ends
Succeeded or Failed. No I/O."""

from __future__ import annotations

import contextlib
import ipaddress

from sandbox.controllers import events
from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.executions import runs_to_completion
from sandbox.machines import Machine
from sandbox.podutil import condition, pod_terminating, set_condition
from sandbox.store import ApiError, Obj, now_rfc3339

POD_NETWORK = ipaddress.ip_network("127.20.0.0/14")
#: the exit code of a container killed (SIGKILL)
KILLED = 137


def _bound_and_waiting(pod: Obj) -> bool:
    return bool(pod.get("spec", {}).get("nodeName")) and pod.get("status", {}).get("phase") not in (
        "Running",
        "Succeeded",
        "Failed",
    )


def _bound(pod: Obj, host_ip: str) -> None:
    """What a pod created on its node (not scheduled) lacks: its host's address and the
    PodScheduled condition."""
    status = pod.setdefault("status", {})
    if host_ip and not status.get("hostIP"):
        status["hostIP"] = host_ip
    if condition(pod, "PodScheduled") is None:
        set_condition(pod, "PodScheduled", "True")


def _reported(pod: Obj) -> bool:
    """Whether something already reported on the pod's containers (it is not started
    again)."""
    status = pod.get("status", {})
    return bool(status.get("containerStatuses")) or status.get("phase") in ("Succeeded", "Failed")


def _still_running(pod: Obj) -> bool:
    """Whether the pod is as the kubelet left it when its containers started."""
    status = pod.get("status", {})
    return status.get("phase") == "Running" and all(
        "running" in (c.get("state") or {}) for c in status.get("containerStatuses") or []
    )


def _container_status(container: Obj, state: Obj, *, ready: bool = False) -> Obj:
    return {
        "name": container.get("name", "main"),
        "ready": ready,
        "restartCount": 0,
        "image": container.get("image", ""),
        "imageID": "",
        "started": "running" in state,
        "state": state,
    }


class Kubelet(Controller):
    def __init__(self, context: Context) -> None:
        super().__init__(context)
        #: pods whose containers are being stopped (told once, as "Killing")
        self.stopping: set[str] = set()

    RESOURCES = frozenset({"pods"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource != "pods":
            return
        uid = obj["metadata"]["uid"]
        if event_type == "DELETED":
            self.stopping.discard(uid)
            return
        if not pod_terminating(obj):
            if event_type == "ADDED" and _bound_and_waiting(obj):
                self.start_later(key_of(obj), uid)  # created on its node: no scheduling
            return
        node = obj.get("spec", {}).get("nodeName")
        if node and uid not in self.stopping:
            self.stopping.add(uid)
            # Written from the loop, not from within the store's notification.
            self.context.later(0, self._killing, obj, node)
        if self.context.runs_processes(obj):
            return  # gone once its processes have exited: the process runner says when
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
        if runs_to_completion(pod) and not self.context.runs_processes(pod):
            if not _reported(pod):
                self._run_command(key, pod)
            return
        ip = self.next_pod_ip()

        host_ip = self._host_ip(pod)

        def run(pod: Obj) -> None:
            _bound(pod, host_ip)
            status = pod.setdefault("status", {})
            started = now_rfc3339()
            status.update(
                {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": started}
            )
            status["containerStatuses"] = [
                {
                    "name": c.get("name", "main"),
                    # a container run as a process is ready when its probe says so
                    "ready": not self.context.runs_image(str(c.get("image", ""))),
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": "",
                    "started": True,
                    "state": {"running": {"startedAt": started}},
                }
                for c in pod.get("spec", {}).get("containers") or []
            ]
            ready = all(c["ready"] for c in status["containerStatuses"])
            set_condition(pod, "Initialized", "True")
            for kind in ("ContainersReady", "Ready"):
                set_condition(pod, kind, "True" if ready else "False")

        try:
            started = self.store.mutate("pods", *key, run)
        except ApiError:
            return
        events.container_started(self.store, started)

    def _run_command(self, key: Key, pod: Obj) -> None:
        """Start the containers, run their commands (recorded) and end them a moment later."""
        started = now_rfc3339(self.store.clock)
        base = self.context.timing.command_seconds
        ran = [
            self.context.executions.run(pod, c, started, base)
            for c in pod["spec"].get("containers") or []
            if c.get("command")
        ]
        exit_codes = {r.container: r.exit_code for r in ran}
        seconds = max((r.seconds for r in ran), default=base)
        host_network = bool(pod["spec"].get("hostNetwork"))
        host_ip = self._host_ip(pod)
        ip = host_ip if host_network else self.next_pod_ip()

        def run(pod: Obj) -> None:
            _bound(pod, host_ip)
            status = pod.setdefault("status", {})
            status.update({"phase": "Running", "startTime": started})
            if ip:
                status.update({"podIP": ip, "podIPs": [{"ip": ip}]})
            status["containerStatuses"] = [
                _container_status(c, {"running": {"startedAt": started}}, ready=True)
                for c in pod["spec"].get("containers") or []
            ]
            for kind in ("Initialized", "ContainersReady", "Ready"):
                set_condition(pod, kind, "True")

        try:
            running = self.store.mutate("pods", *key, run)
        except ApiError:
            return
        events.container_started(self.store, running)
        deadline = running["spec"].get("activeDeadlineSeconds")
        if isinstance(deadline, int | float) and 0 < deadline < seconds:
            # The kubelet kills what outlives the pod's deadline.
            killed = {name: KILLED for name in exit_codes}
            self.context.later(
                deadline, self._command_done, key, running["metadata"]["uid"], killed, True
            )
            return
        self.context.later(seconds, self._command_done, key, running["metadata"]["uid"], exit_codes)

    def _command_done(
        self, key: Key, uid: str, exit_codes: dict[str, int], deadline: bool = False
    ) -> None:
        pod = self.store.peek("pods", *key)
        if pod is None or pod["metadata"]["uid"] != uid or pod_terminating(pod):
            return
        if not _still_running(pod):
            return  # someone else reported on its containers meanwhile: theirs to finish
        finished = now_rfc3339(self.store.clock)
        failed = any(exit_codes.values())

        def end(pod: Obj) -> None:
            status = pod.setdefault("status", {})
            statuses = []
            for container in pod["spec"].get("containers") or []:
                code = exit_codes.get(container.get("name", ""), 0)
                terminated = {
                    "exitCode": code,
                    "reason": "Error" if code else "Completed",
                    "startedAt": status.get("startTime", finished),
                    "finishedAt": finished,
                }
                statuses.append(_container_status(container, {"terminated": terminated}))
            status["containerStatuses"] = statuses
            status["phase"] = "Failed" if failed else "Succeeded"
            if deadline:
                status["reason"] = "DeadlineExceeded"
                status["message"] = "Pod was active on the node longer than the specified deadline"
            for kind in ("ContainersReady", "Ready"):
                set_condition(pod, kind, "False", "PodCompleted")

        with contextlib.suppress(ApiError):
            self.store.mutate("pods", *key, end)

    def _host_ip(self, pod: Obj) -> str:
        """The address of the pod's node (where the scheduler did not write it already)."""
        known = pod.get("status", {}).get("hostIP")
        if known:
            return str(known)
        node = self.store.peek("nodes", "", pod["spec"].get("nodeName", "")) or {}
        addresses = node.get("status", {}).get("addresses") or []
        return next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")

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

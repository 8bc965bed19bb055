"""The Kubernetes execution mode against the sandbox: the exec pod's shape, its result
(exit code from the terminated state, output from its log), its deletion whatever
happens, and its undo journaled before it exists.

The sandbox's kubelets run exec pods with the results set through its admin API
(/sandbox/v1/executions/results). For states the sandbox does not produce (an image
that cannot be pulled), the pod goes to a node whose machine is stopped, where no
kubelet touches it, and the test writes its status through pods/status, as a kubelet
would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from sandbox.sandbox import Sandbox
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.adapters.node_exec import (
    EXEC_POD_UNDO,
    PodExecSettings,
    PodExecutor,
    exec_pod,
    undo_delete_exec_pod,
)
from seal.errors import ExecutionError, NotFoundError
from seal.model import Node
from tests.conftest import wait_for

EXEC = "seal/role=exec"


@pytest.fixture
def kube(sandbox: Sandbox) -> KubeClient:
    return KubeClient(resolve(str(sandbox.kubeconfig_path)))


@pytest.fixture
def node(kube: KubeClient) -> Node:
    return kube.list_nodes()[0]


def exec_pods(kube: KubeClient) -> list[dict[str, Any]]:
    return list(kube.list_all("/api/v1/pods", label_selector=EXEC))


@dataclass
class Recorder:
    """An undo recorder that checks the exec pod does not exist yet when it is told."""

    kube: KubeClient
    recorded: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    pods_when_recorded: list[int] = field(default_factory=list)

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> str:
        self.pods_when_recorded.append(len(exec_pods(self.kube)))
        self.recorded.append((kind, dict(payload)))
        return f"entry-{len(self.recorded)}"

    def discard(self, entry: Any) -> None:
        self.discarded.append(str(entry))


def result_rule(kube: KubeClient, match: str, exit_code: int = 0, output: str = "") -> None:
    """What the sandbox's kubelets make of commands matching `match`."""
    kube.request(
        "POST",
        "/sandbox/v1/executions/results",
        body={"match": match, "exitCode": exit_code, "output": output},
        idempotent=True,
    )


def executions(kube: KubeClient) -> list[dict[str, Any]]:
    return list(kube.request("GET", "/sandbox/v1/executions")["executions"])


class Watcher:
    """Keeps a copy of every exec pod it sees through the API (they are gone afterwards)."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.seen: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pod in exec_pods(self.kube):
                self.seen.setdefault(pod["metadata"]["uid"], pod)


class DeadNode:
    """Plays the kubelet of a node whose machine is stopped (so that the sandbox's does
    not run the pod): writes `status` on each new exec pod."""

    def __init__(self, box: Sandbox, kube: KubeClient, node: Node, status: dict[str, Any]):
        self.box, self.kube, self.status = box, kube, status
        self.machine = node.provider_id.removeprefix("sandbox://")
        self.done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DeadNode:
        self.box.stop_machine(self.machine)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.box.start_machine(self.machine)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pod in exec_pods(self.kube):
                meta = pod["metadata"]
                if meta["uid"] in self.done or meta.get("deletionTimestamp"):
                    continue
                self.done.add(meta["uid"])
                self.kube.request(
                    "PATCH",
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                    body={"status": self.status},
                    content_type="application/merge-patch+json",
                )


def gone(kube: KubeClient) -> None:
    wait_for(lambda: exec_pods(kube) == [], what="the exec pod to be deleted")


def test_the_command_runs_in_a_privileged_pod_pinned_to_the_node(
    kube: KubeClient, node: Node
) -> None:
    result_rule(kube, r"systemctl restart kubelet$", output="restarted\n")
    with Watcher(kube) as watcher:
        result = PodExecutor(kube).run(node, "systemctl restart kubelet", timeout=20)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "restarted\n", "")
    (pod,) = watcher.seen.values()
    spec = pod["spec"]
    assert spec["nodeName"] == node.name
    assert spec["hostPID"] is True and spec["hostNetwork"] is True
    assert spec["restartPolicy"] == "Never"
    assert pod["metadata"]["labels"]["seal/role"] == "exec"
    assert pod["metadata"]["namespace"] == "default"
    (container,) = spec["containers"]
    assert container["securityContext"] == {"privileged": True}
    assert container["command"] == [
        "nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--",
        "sh", "-c", "systemctl restart kubelet",
    ]  # fmt: skip
    assert spec["activeDeadlineSeconds"] >= 20
    (run,) = executions(kube)
    assert (run["node"], run["pod"]) == (node.name, pod["metadata"]["name"])
    gone(kube)


def test_a_failing_command_gives_its_exit_code_and_output(kube: KubeClient, node: Node) -> None:
    result_rule(kube, r"-- sh -c false$", exit_code=7, output="it broke\n")
    result = PodExecutor(kube).run(node, "false", timeout=20)
    assert (result.exit_code, result.stdout) == (7, "it broke\n")
    gone(kube)


def test_the_undo_is_recorded_before_the_pod_exists_and_discarded_once_it_is_gone(
    kube: KubeClient, node: Node
) -> None:
    recorder = Recorder(kube)
    executor = PodExecutor(kube, PodExecSettings(namespace="kube-system"))
    executor.run(node, "true", timeout=20, undo=recorder)
    (run,) = executions(kube)
    assert run["namespace"] == "kube-system"
    assert recorder.recorded == [(EXEC_POD_UNDO, {"namespace": "kube-system", "name": run["pod"]})]
    assert recorder.pods_when_recorded == [0]
    assert recorder.discarded == ["entry-1"]
    gone(kube)


def test_a_command_that_does_not_finish_times_out_and_its_pod_is_deleted(
    kube: KubeClient, node: Node
) -> None:
    recorder = Recorder(kube)
    started = time.monotonic()
    with pytest.raises(ExecutionError, match=r"'sleep 600' on node .* did not finish within 1 s"):
        PodExecutor(kube).run(node, "sleep 600", timeout=1, undo=recorder)
    assert time.monotonic() - started < 5
    assert recorder.discarded == ["entry-1"], "deleted, so its undo is no longer needed"
    gone(kube)


def test_a_pod_that_cannot_start_fails_at_once(
    sandbox: Sandbox, kube: KubeClient, node: Node
) -> None:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}
    status = {"containerStatuses": [{"name": "exec", "ready": False, "state": waiting}]}
    with DeadNode(sandbox, kube, node, status):
        started = time.monotonic()
        with pytest.raises(
            ExecutionError, match="cannot start: ImagePullBackOff: pull access denied"
        ):
            PodExecutor(kube).run(node, "true", timeout=30)
        assert time.monotonic() - started < 10
    gone(kube)


def test_a_pod_that_failed_without_running_says_why(
    sandbox: Sandbox, kube: KubeClient, node: Node
) -> None:
    status = {"phase": "Failed", "reason": "DeadlineExceeded", "message": "too slow"}
    with (
        DeadNode(sandbox, kube, node, status),
        pytest.raises(
            ExecutionError, match=r"did not run: the pod Failed \(DeadlineExceeded: too slow\)"
        ),
    ):
        PodExecutor(kube).run(node, "true", timeout=30)
    gone(kube)


def test_a_node_whose_machine_is_down_times_out(
    sandbox: Sandbox, kube: KubeClient, node: Node
) -> None:
    with (
        DeadNode(sandbox, kube, node, {}),
        pytest.raises(ExecutionError, match=r"did not finish within 1 s \(the pod is Pending\)"),
    ):
        PodExecutor(kube).run(node, "uptime", timeout=1)
    assert executions(kube) == []
    gone(kube)


def test_inventory_hosts_cannot_run_pods(kube: KubeClient) -> None:
    host = Node(name="db-1", ip="10.1.1.1", in_cluster=False)
    with pytest.raises(ExecutionError, match=r"comes from an inventory file.*--execution-mode ssh"):
        PodExecutor(kube).run(host, "true", timeout=1)
    assert exec_pods(kube) == []


def test_a_namespace_that_does_not_exist_fails_clearly(kube: KubeClient, node: Node) -> None:
    executor = PodExecutor(kube, PodExecSettings(namespace="no-such-namespace"))
    with pytest.raises(ExecutionError, match=r"cannot create the exec pod for node .* no-such"):
        executor.run(node, "true", timeout=5)


def test_kill_container_runs_the_template_on_the_node(kube: KubeClient, node: Node) -> None:
    PodExecutor(kube).kill_container(node, "containerd://0a1b2c", "SIGTERM", timeout=20)
    (run,) = executions(kube)
    assert run["command"][-1] == (
        "kill -s TERM $(crictl inspect --output go-template --template '{{.info.pid}}' 0a1b2c)"
    )


@dataclass
class Ctx:
    kube: KubeClient


def test_the_undo_handler_deletes_a_leftover_exec_pod(kube: KubeClient, node: Node) -> None:
    manifest = exec_pod("seal-exec-left", "default", node.name, "true", "busybox", 10)
    kube.request("POST", "/api/v1/namespaces/default/pods", body=manifest)
    undo_delete_exec_pod({"namespace": "default", "name": "seal-exec-left"}, Ctx(kube))
    undo_delete_exec_pod({"namespace": "default", "name": "seal-exec-left"}, Ctx(kube))

    def gone() -> bool:
        try:
            kube.request("GET", "/api/v1/namespaces/default/pods/seal-exec-left")
        except NotFoundError:
            return True
        return False

    wait_for(gone, what="the leftover exec pod to be deleted")

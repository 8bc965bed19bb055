"""The Kubernetes execution mode against the sandbox: the exec pod's shape, its result
(exit code from the terminated state, output from its log), its deletion whatever
happens, and its undo journaled before it exists.

The sandbox does not run exec pods by itself yet, so the test plays the node: it writes
each exec pod's final status through the API's pods/status, as a kubelet would.
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


class FakeNode:
    """Plays the node's kubelet: marks each new exec pod finished (the sandbox's kubelet
    starts only pods its scheduler bound, so one created with its nodeName stays Pending)."""

    def __init__(self, kube: KubeClient, *, exit_code: int | None = 0, **status: Any) -> None:
        self.kube = kube
        self.exit_code = exit_code
        self.status = status
        self.seen: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeNode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pod in exec_pods(self.kube):
                phase = (pod.get("status") or {}).get("phase", "Pending")
                if phase in ("Pending", "Running") and not any(
                    p["metadata"]["uid"] == pod["metadata"]["uid"] for p in self.seen
                ):
                    self.seen.append(pod)
                    self._finish(pod)

    def _finish(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        status: dict[str, Any] = dict(self.status)
        if self.exit_code is not None:
            state = {"terminated": {"exitCode": self.exit_code, "reason": "Completed"}}
            status.setdefault("phase", "Succeeded" if self.exit_code == 0 else "Failed")
            status["containerStatuses"] = [
                {"name": "exec", "ready": False, "restartCount": 0, "state": state}
            ]
        self.kube.request(
            "PATCH",
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
            body={"status": status},
            content_type="application/merge-patch+json",
        )


def test_the_command_runs_in_a_privileged_pod_pinned_to_the_node(
    kube: KubeClient, node: Node
) -> None:
    executor = PodExecutor(kube)
    with FakeNode(kube, exit_code=0) as fake:
        result = executor.run(node, "systemctl restart kubelet", timeout=20)
    assert len(fake.seen) == 1
    pod = fake.seen[0]
    spec = pod["spec"]
    assert spec["nodeName"] == node.name
    assert spec["hostPID"] is True
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
    assert result.exit_code == 0
    # its output is the pod's log, read from the pod's own container before it was deleted
    assert f"container exec of pod {pod['metadata']['name']} started" in result.stdout
    assert exec_pods(kube) == [] or all(
        p["metadata"].get("deletionTimestamp") for p in exec_pods(kube)
    )
    wait_for(lambda: exec_pods(kube) == [], what="the exec pod to be gone")


def test_a_failing_command_gives_its_exit_code(kube: KubeClient, node: Node) -> None:
    with FakeNode(kube, exit_code=7):
        result = PodExecutor(kube).run(node, "false", timeout=20)
    assert result.exit_code == 7
    wait_for(lambda: exec_pods(kube) == [], what="the exec pod to be gone")


def test_the_undo_is_recorded_before_the_pod_exists_and_discarded_once_it_is_gone(
    kube: KubeClient, node: Node
) -> None:
    recorder = Recorder(kube)
    executor = PodExecutor(kube, PodExecSettings(namespace="kube-system"))
    with FakeNode(kube, exit_code=0) as fake:
        executor.run(node, "true", timeout=20, undo=recorder)
    name = fake.seen[0]["metadata"]["name"]
    assert recorder.recorded == [(EXEC_POD_UNDO, {"namespace": "kube-system", "name": name})]
    assert recorder.pods_when_recorded == [0]
    assert recorder.discarded == ["entry-1"]


def test_a_command_that_does_not_finish_times_out_and_its_pod_is_deleted(
    kube: KubeClient, node: Node
) -> None:
    recorder = Recorder(kube)
    started = time.monotonic()
    with pytest.raises(ExecutionError, match=r"'sleep 600' on node .* did not finish within 1 s"):
        PodExecutor(kube).run(node, "sleep 600", timeout=1, undo=recorder)
    assert time.monotonic() - started < 5
    assert recorder.discarded == ["entry-1"], "deleted, so its undo is no longer needed"
    wait_for(lambda: exec_pods(kube) == [], what="the exec pod to be gone")


def test_a_pod_that_cannot_start_fails_at_once(kube: KubeClient, node: Node) -> None:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}
    with FakeNode(
        kube,
        exit_code=None,
        containerStatuses=[{"name": "exec", "ready": False, "restartCount": 0, "state": waiting}],
    ):
        started = time.monotonic()
        with pytest.raises(
            ExecutionError, match="cannot start: ImagePullBackOff: pull access denied"
        ):
            PodExecutor(kube).run(node, "true", timeout=30)
    assert time.monotonic() - started < 10
    wait_for(lambda: exec_pods(kube) == [], what="the exec pod to be gone")


def test_a_pod_that_failed_without_running_says_why(kube: KubeClient, node: Node) -> None:
    with (
        FakeNode(
            kube, exit_code=None, phase="Failed", reason="DeadlineExceeded", message="too slow"
        ),
        pytest.raises(ExecutionError, match=r"did not run: the pod Failed \(DeadlineExceeded"),
    ):
        PodExecutor(kube).run(node, "true", timeout=30)
    wait_for(lambda: exec_pods(kube) == [], what="the exec pod to be gone")


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
    with FakeNode(kube, exit_code=0) as fake:
        PodExecutor(kube).kill_container(node, "containerd://0a1b2c", "SIGTERM", timeout=20)
    command = fake.seen[0]["spec"]["containers"][0]["command"][-1]
    assert command == (
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

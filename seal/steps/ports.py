"""The services a step sees, as Protocols: the Kubernetes API, probes, kubectl, clouds,
commands on nodes, time and the undo journal.

Steps are written against these; the adapters that implement them are imported
only when a run starts (`seal.runtime.services`), so that loading and checking a
policy never imports an HTTP client. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from seal.clock import Clock
from seal.cloud import CloudDriver
from seal.metrics import Metrics
from seal.model import ExecResult, Node, Pod, ProbeAnswer, ProbeRequest, ServiceInfo

__all__ = [
    "Clock",
    "CloudDriver",
    "ExecResult",
    "Executor",
    "KubeApi",
    "KubectlRunner",
    "Metrics",
    "Prober",
    "RecordedUndo",
    "UndoRecorder",
]


class KubeApi(Protocol):
    """The Kubernetes API calls steps make (`seal.adapters.kube.KubeClient`)."""

    def list_pods(
        self,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Pod]: ...

    def list_namespaces(self, *, label_selector: str | None = None) -> list[str]: ...

    def list_nodes(self) -> list[Node]: ...

    def deployment_selector(self, namespace: str, name: str) -> str: ...

    def get_service(self, namespace: str, name: str) -> ServiceInfo: ...

    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> None: ...

    def evict_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> None: ...

    def create_event(
        self, target: Pod | Node, *, reason: str, message: str, event_type: str = "Normal"
    ) -> None: ...

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The Deployment as the API holds it; `NotFoundError` when there is none."""
        ...

    def create_deployment(
        self, namespace: str, body: Mapping[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Create it (only checked by the API server when `dry_run`); what the server made."""
        ...

    def replace_deployment(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    def delete_deployment(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        """Delete it and, in the background, its ReplicaSets and pods."""
        ...

    def list_pod_objects(
        self, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """The pods as the API holds them (status, conditions), for probes."""
        ...

    def read_pod_log(
        self, namespace: str, name: str, *, container: str | None = None, tail_lines: int = 100
    ) -> str:
        """The last `tail_lines` lines of a container's log (the pod's first by default)."""
        ...

    def get_service_object(self, namespace: str, name: str) -> dict[str, Any]:
        """The Service as the API holds it (`get_service` for what probes need)."""
        ...

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """A JSON merge patch: a null value removes its key (a selector's label...)."""
        ...

    def get_apps_object(self, namespace: str, resource: str, name: str) -> dict[str, Any]:
        """An apps/v1 object (`replicasets`, `statefulsets`, `daemonsets`, `deployments`):
        what owns a pod, for measuring its recovery; `NotFoundError` when there is none."""
        ...

    def list_service_objects(self, namespace: str) -> list[dict[str, Any]]:
        """The Services of a namespace as the API holds them (their selectors)."""
        ...

    def list_endpoints(self, namespace: str) -> list[dict[str, Any]]:
        """The Endpoints of a namespace (each Service's ready addresses)."""
        ...


class NodeSource(Protocol):
    """The nodes seal may act on, read anew at every call (an inventory file's hosts)."""

    def nodes(self) -> list[Node]: ...


class Prober(Protocol):
    """Sends one HTTP request (probes, Alertmanager's API); `seal.errors.ProbeError` when
    no answer came. Proxies only as the request names them, never from the environment."""

    def send(self, request: ProbeRequest) -> ProbeAnswer: ...


class KubectlRunner(Protocol):
    """kubectl against seal's own cluster; `seal.errors.ExecutionError` when it fails."""

    @property
    def default_namespace(self) -> str:
        """Where kubectl puts objects that name no namespace."""
        ...

    def run(
        self,
        action: str,
        manifest: str,
        *,
        binary: str = "kubectl",
        proxy: str | None = None,
        timeout: float = 120.0,
        ignore_not_found: bool = False,
        server_dry_run: bool = False,
    ) -> str: ...


class Executor(Protocol):
    """Runs a shell command on a node: over SSH (`seal.adapters.ssh.SshExecutor`) or in a
    short-lived privileged pod pinned to the node (`seal.adapters.node_exec.PodExecutor`).

    Both raise `seal.errors.ExecutionError` when the command could not be run, or did
    not finish within `timeout` seconds; a command that ran and failed is not an error
    but an `ExecResult` with its non-zero exit code.
    """

    def run(
        self,
        node: Node,
        command: str,
        *,
        timeout: float,
        undo: UndoRecorder | None = None,
    ) -> ExecResult:
        """Run `command` with `sh -c` on the node; its exit code, stdout and stderr.

        With `undo`, whatever the executor leaves in the cluster while the command runs
        (the Kubernetes mode's pod) is journaled for removal before it is created, and
        the entry discarded once it is gone."""
        ...

    def kill_container(
        self,
        node: Node,
        container_id: str,
        signal: str,
        *,
        timeout: float,
        undo: UndoRecorder | None = None,
    ) -> ExecResult:
        """Send `signal` (KILL, TERM, SIGKILL, 9...) to a container on the node, with
        the configured kill-command template. `container_id` may carry its runtime
        prefix (`containerd://...`, as a pod's status gives it)."""
        ...


class RecordedUndo(Protocol):
    @property
    def id(self) -> str: ...


class UndoRecorder(Protocol):
    """Writes an undo down before the change is made (bound to the running scenario)."""

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> RecordedUndo: ...

    def discard(self, entry: RecordedUndo) -> None: ...

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
from seal.model import Node, Pod, ProbeAnswer, ProbeRequest, ServiceInfo

__all__ = [
    "Clock",
    "CloudDriver",
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
        self, pod: Pod, *, reason: str, message: str, event_type: str = "Normal"
    ) -> None: ...


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
    """Runs a command on a node; `seal.errors.ExecutionError` when it cannot."""

    def execute(self, node: Node, command: str, *, timeout: float) -> tuple[int, str]:
        """The command's exit code and its output."""
        ...


class RecordedUndo(Protocol):
    @property
    def id(self) -> str: ...


class UndoRecorder(Protocol):
    """Writes an undo down before the change is made (bound to the running scenario)."""

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> RecordedUndo: ...

    def discard(self, entry: RecordedUndo) -> None: ...

"""Commands on nodes the Kubernetes way (the default execution mode): a short-lived
privileged pod pinned to the node enters the host's namespaces with nsenter, runs the
command, and is deleted once it has finished, failed or run out of time.

Its exit code comes from the container's terminated state and its output from the
pod's log (stdout and stderr together: the log does not tell them apart). Does
network I/O through `seal.adapters.kube.KubeClient`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from seal.adapters.kill_command import KillCommand
from seal.adapters.objects import Obj
from seal.clock import Clock, SystemClock
from seal.errors import ExecutionError, KubeError, NotFoundError
from seal.model import ExecResult, Node

if TYPE_CHECKING:  # the undo handler is imported by steps, which load without an HTTP client
    from seal.adapters.kube import KubeClient

log = logging.getLogger(__name__)

#: the label every exec pod carries, so that `kubectl get pods -l seal/role=exec` finds them
ROLE_LABEL = "seal/role"
ROLE = "exec"
NODE_ANNOTATION = "seal/node"
CONTAINER = "exec"
DEFAULT_IMAGE = "docker.io/library/busybox:1.36"
DEFAULT_NAMESPACE = "default"
#: the exec pods run as root in the host's namespaces already: no sudo
DEFAULT_KILL_COMMAND = (
    "kill -s {signal} "
    "$(crictl inspect --output go-template --template '{{.info.pid}}' {container_id})"
)
#: enter every namespace of the node's first process (the host's), as root
NSENTER = ("nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--")
#: the undo kind that deletes an exec pod seal could not delete itself
EXEC_POD_UNDO = "exec-pod-delete"
#: a pod's log is read up to this many bytes
MAX_LOG_BYTES = 1 << 20
_POLL_MIN, _POLL_MAX = 0.1, 1.0
#: a waiting container with one of these reasons will not start by itself
_STUCK = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}


class UndoRecorder(Protocol):
    """The scenario's undo journal (`seal.steps.ports.UndoRecorder`)."""

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> Any: ...

    def discard(self, entry: Any) -> None: ...


@dataclass(frozen=True)
class PodExecSettings:
    """Where exec pods run and what they run (the `--exec-*` flags)."""

    namespace: str = DEFAULT_NAMESPACE
    image: str = DEFAULT_IMAGE
    kill_command: str = DEFAULT_KILL_COMMAND


class PodExecutor:
    """Runs commands on nodes in privileged pods; implements `seal.steps.ports.Executor`."""

    def __init__(
        self,
        kube: KubeClient,
        settings: PodExecSettings | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings or PodExecSettings()
        self._clock: Clock = clock or SystemClock()
        self._kill = KillCommand(self.settings.kill_command)

    def run(
        self, node: Node, command: str, *, timeout: float, undo: UndoRecorder | None = None
    ) -> ExecResult:
        if not node.in_cluster:
            raise ExecutionError(
                f"node {node.name} comes from an inventory file, not from the cluster: no pod "
                "can run on it; use --execution-mode ssh"
            )
        namespace = self.settings.namespace
        name = f"seal-exec-{secrets.token_hex(5)}"
        where = f"node {node.name} (pod {namespace}/{name})"
        entry = None
        if undo is not None:
            entry = undo.record(
                EXEC_POD_UNDO,
                {"namespace": namespace, "name": name},
                f"delete the exec pod {namespace}/{name} on node {node.name}",
            )
        deadline = self._clock.monotonic() + timeout
        try:
            self._create(
                exec_pod(name, namespace, node.name, command, self.settings.image, timeout)
            )
            log.debug("running %r on %s", command, where)
            result = self._result(namespace, name, where, command, deadline, timeout)
        finally:
            if self._delete(namespace, name, where) and undo is not None:
                undo.discard(entry)
        return result

    def kill_container(
        self,
        node: Node,
        container_id: str,
        signal: str,
        *,
        timeout: float,
        undo: UndoRecorder | None = None,
    ) -> ExecResult:
        command = self._kill.render(container_id, signal)
        return self.run(node, command, timeout=timeout, undo=undo)

    # ------------------------------------------------------------ the pod
    def _create(self, manifest: Obj) -> None:
        namespace = manifest["metadata"]["namespace"]
        try:
            self.kube.request(
                "POST", f"/api/v1/namespaces/{namespace}/pods", body=manifest, idempotent=True
            )
        except KubeError as exc:
            node = manifest["spec"]["nodeName"]
            raise ExecutionError(
                f"cannot create the exec pod for node {node} in namespace {namespace}: {exc}"
            ) from exc

    def _result(
        self, namespace: str, name: str, where: str, command: str, deadline: float, timeout: float
    ) -> ExecResult:
        pod = self._wait(namespace, name, where, command, deadline, timeout)
        terminated = _terminated(pod)
        if terminated is None:
            status = pod.get("status") or {}
            raise ExecutionError(
                f"{command!r} on {where} did not run: the pod {status.get('phase')}"
                + (
                    f" ({status.get('reason')}: {status.get('message')})"
                    if status.get("reason")
                    else ""
                )
            )
        return ExecResult(int(terminated.get("exitCode", -1)), self._log(namespace, name), "")

    def _wait(
        self, namespace: str, name: str, where: str, command: str, deadline: float, timeout: float
    ) -> Obj:
        """The pod once it has finished; `ExecutionError` when it cannot or did not in time."""
        pause = _POLL_MIN
        while True:
            try:
                pod = self.kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
            except NotFoundError as exc:
                raise ExecutionError(
                    f"the exec pod on {where} was deleted by someone else"
                ) from exc
            except KubeError as exc:
                raise ExecutionError(f"cannot follow the exec pod on {where}: {exc}") from exc
            status = pod.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed"):
                return pod
            stuck = _stuck_reason(pod)
            if stuck:
                raise ExecutionError(f"the exec pod on {where} cannot start: {stuck}")
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                raise ExecutionError(
                    f"{command!r} on {where} did not finish within {timeout:g} s "
                    f"(the pod is {status.get('phase') or 'Pending'})"
                )
            self._clock.sleep(min(pause, remaining))
            pause = min(_POLL_MAX, pause * 1.5)

    def _log(self, namespace: str, name: str) -> str:
        try:
            answer = self.kube.request(
                "GET",
                f"/api/v1/namespaces/{namespace}/pods/{name}/log",
                query={"container": CONTAINER, "limitBytes": MAX_LOG_BYTES},
                text=True,
            )
        except KubeError as exc:
            log.warning("could not read the output of exec pod %s/%s: %s", namespace, name, exc)
            return ""
        return str(answer.get("text", ""))

    def _delete(self, namespace: str, name: str, where: str) -> bool:
        """Delete the pod now; True once it is gone (or was never created)."""
        try:
            delete_exec_pod(self.kube, namespace, name)
        except KubeError as exc:
            log.warning(
                "could not delete the exec pod on %s (it stays in the undo journal): %s",
                where,
                exc,
            )
            return False
        return True


def exec_pod(name: str, namespace: str, node: str, command: str, image: str, timeout: float) -> Obj:
    """The manifest of a pod that runs `command` in the host namespaces of `node`."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {ROLE_LABEL: ROLE, "app.kubernetes.io/managed-by": "seal"},
            "annotations": {NODE_ANNOTATION: node},
        },
        "spec": {
            "nodeName": node,
            "hostPID": True,
            # Reaches the node even when its pod network is what a scenario broke.
            "hostNetwork": True,
            "restartPolicy": "Never",
            # The node kills it even if seal is gone before it can delete it.
            "activeDeadlineSeconds": math.ceil(timeout) + 60,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": [*NSENTER, "sh", "-c", command],
                    "securityContext": {"privileged": True},
                }
            ],
        },
    }


def delete_exec_pod(kube: _Deletes, namespace: str, name: str) -> None:
    """Delete an exec pod at once; one that is already gone is fine."""
    with contextlib.suppress(NotFoundError):
        kube.delete_pod(namespace, name, grace_period_seconds=0)


class _Deletes(Protocol):
    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> None: ...


class _HasKube(Protocol):
    @property
    def kube(self) -> _Deletes: ...


def undo_delete_exec_pod(payload: Mapping[str, Any], ctx: _HasKube) -> None:
    """The undo handler of `EXEC_POD_UNDO` (register it with the step that runs commands)."""
    delete_exec_pod(ctx.kube, str(payload["namespace"]), str(payload["name"]))


def _terminated(pod: Obj) -> Obj | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER:
            state = (status.get("state") or {}).get("terminated")
            return dict(state) if isinstance(state, dict) else None
    return None


def _stuck_reason(pod: Obj) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _STUCK:
            return f"{waiting['reason']}: {waiting.get('message') or 'no message'}"
    return ""

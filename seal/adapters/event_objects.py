"""Kubernetes Events as seal writes them: the object an Event is about, its body, and one
POST (safe to retry). Talks to the API server through the client it is handed."""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seal.errors import ConflictError
from seal.model import Node, Pod

if TYPE_CHECKING:
    from seal.adapters.kube import KubeClient

log = logging.getLogger(__name__)

#: Event names only, never the random source of a run's choices
_names = random.Random()
_API_VERSIONS = {
    "ReplicaSet": "apps/v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


@dataclass(frozen=True)
class Involved:
    """The object an Event is about."""

    kind: str
    name: str
    uid: str = ""
    #: "" for objects in no namespace (nodes, namespaces)
    namespace: str = ""

    @property
    def event_namespace(self) -> str:
        """Where its Events are kept: its namespace, `default` for cluster objects (as the
        kubelet does for nodes), the namespace itself for a namespace."""
        if self.kind == "Namespace":
            return self.name
        return self.namespace or "default"

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.lower()} {where}{self.name}"

    def reference(self) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "apiVersion": _API_VERSIONS.get(self.kind, "v1"),
        }
        if self.uid:
            ref["uid"] = self.uid
        if self.namespace:
            ref["namespace"] = self.namespace
        return ref


def involved(target: Pod | Node) -> Involved:
    if isinstance(target, Pod):
        return Involved("Pod", target.name, target.uid, target.namespace)
    return Involved("Node", target.name, target.uid)


def owner_of(pod: Pod) -> Involved:
    """The pod's controller, or its namespace for a bare pod."""
    if pod.owner:
        kind, name, uid = pod.owner
        return Involved(kind, name, uid, pod.namespace)
    return Involved("Namespace", pod.namespace)


def event_body(
    about: Involved, *, reason: str, message: str, event_type: str, stamp: float, name: str
) -> dict[str, Any]:
    """A core/v1 Event, as seal writes them (`source.component` seal, a count of 1)."""
    now = timestamp(stamp)
    return {
        "metadata": {"name": name, "namespace": about.event_namespace},
        "involvedObject": about.reference(),
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": {"component": "seal"},
        "reportingComponent": "seal",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def send_event(
    kube: KubeClient,
    about: Involved,
    *,
    reason: str,
    message: str,
    kind: str,
    stamp: float,
    count: int = 1,
) -> str:
    """POST one Event; its name. A name chosen here, not by the server, makes the create
    safe to retry: an attempt that landed although its answer was lost makes the next one
    a 409, which is success."""
    name = f"{about.name}.{int(stamp * 1e9):x}{_names.getrandbits(16):04x}"
    body = event_body(
        about, reason=reason, message=message, event_type=kind, stamp=stamp, name=name
    )
    body["count"] = count
    try:
        kube.request(
            "POST", f"/api/v1/namespaces/{about.event_namespace}/events", body=body, idempotent=True
        )
    except ConflictError:
        log.debug("event %s was already recorded by an earlier attempt", name)
    return name


def timestamp(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""The things seal acts on, as frozen dataclasses. No I/O.

Adapters build these from API objects; selection and steps work on them only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


class NodeState(enum.Enum):
    """A node's state as the reference defines it: from the cloud driver, else readiness."""

    UP = "UP"
    DOWN = "DOWN"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    uid: str = ""
    #: the phase (Pending, Running, Succeeded, Failed, Unknown), or Terminating once deleted.
    state: str = "Unknown"
    node_name: str = ""
    host_ip: str = ""
    labels: Mapping[str, str] = field(default_factory=_frozen)
    annotations: Mapping[str, str] = field(default_factory=_frozen)
    termination_grace_period: int | None = None
    #: the controller that owns the pod, as (kind, name, uid); () for a bare pod
    owner: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def terminating(self) -> bool:
        return self.state == "Terminating"


@dataclass(frozen=True)
class Machine:
    """A virtual machine as a cloud driver sees it, joined to its node by provider ID.

    `provider_id` is in the form Kubernetes nodes carry in `spec.providerID`
    (`aws:///us-east-1a/i-0123`, `gce://project/zone/name`, `sandbox://vm-00001`...).
    `cloud_state` is the cloud's own word (running, stopping, deallocated...), for messages.
    """

    id: str
    provider_id: str
    name: str
    state: NodeState
    zone: str = ""
    private_ips: tuple[str, ...] = ()
    public_ips: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    cloud_state: str = ""

    @property
    def ips(self) -> tuple[str, ...]:
        """Private addresses first, then public ones."""
        return self.private_ips + self.public_ips

    def describe(self) -> str:
        """`name (provider ID)`, for messages."""
        return f"{self.name} ({self.provider_id})" if self.name else self.provider_id

    @staticmethod
    def key_of(provider_id: str) -> str:
        """The form of a provider ID that nodes and machines are joined on: Azure's
        resource IDs are case-insensitive (nodes often carry the resource group in
        lower case), every other cloud's are compared as they are."""
        return provider_id.lower() if provider_id[:8].lower() == "azure://" else provider_id

    @property
    def key(self) -> str:
        """`Machine.key_of(self.provider_id)`."""
        return Machine.key_of(self.provider_id)


@dataclass(frozen=True)
class ServiceInfo:
    """What probes need of a Service."""

    namespace: str
    name: str
    cluster_ip: str
    ports: tuple[int, ...] = ()
    selector: str = ""


@dataclass(frozen=True)
class ProbeRequest:
    """One HTTP request a probe sends."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    timeout_seconds: float = 1.0
    proxy: str | None = None
    insecure: bool = False


@dataclass(frozen=True)
class ProbeAnswer:
    """The status code of an answer, how long it took, and its body."""

    status: int
    latency_seconds: float
    body: bytes = b""


@dataclass(frozen=True)
class Node:
    name: str
    #: the internal IP (the `ip` property); `external_ip` when the node has one
    ip: str = ""
    provider_id: str = ""
    zone: str = ""
    state: NodeState = NodeState.UNKNOWN
    labels: Mapping[str, str] = field(default_factory=_frozen)
    #: the values the `group` property matches: label values, or inventory sections.
    groups: tuple[str, ...] = ()
    external_ip: str = ""
    uid: str = ""
    #: False for hosts of an inventory file, which have no Node object in the cluster
    in_cluster: bool = True

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True)
class ExecResult:
    """What a command run on a node did: its exit code and what it wrote (decoded as
    UTF-8, undecodable bytes replaced; each stream cut to a bounded size)."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""

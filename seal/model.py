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

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def terminating(self) -> bool:
        return self.state == "Terminating"


@dataclass(frozen=True)
class Machine:
    """A virtual machine as a cloud driver sees it, joined to its node by provider ID."""

    id: str
    provider_id: str
    name: str
    state: NodeState
    zone: str = ""
    ips: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


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
    ip: str = ""
    provider_id: str = ""
    zone: str = ""
    state: NodeState = NodeState.UNKNOWN
    labels: Mapping[str, str] = field(default_factory=_frozen)
    #: the values the `group` property matches: label values, or inventory sections.
    groups: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.name

"""The interface cloud drivers implement. No I/O here.

Machines are matched to Kubernetes nodes by provider ID (`spec.providerID`),
never by IP address.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class MachineState(enum.Enum):
    UP = "UP"
    DOWN = "DOWN"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Machine:
    """A virtual machine as a cloud driver sees it."""

    id: str
    provider_id: str
    name: str
    state: MachineState
    zone: str = ""
    ips: tuple[str, ...] = ()
    groups: tuple[str, ...] = field(default_factory=tuple)


class CloudDriver(Protocol):
    """List, stop and start machines. Errors are raised as `seal.errors.CloudError`."""

    name: str

    def list_machines(self) -> list[Machine]: ...

    def stop(self, machine: Machine, *, force: bool = False) -> None: ...

    def start(self, machine: Machine) -> None: ...

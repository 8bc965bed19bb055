"""The interface cloud drivers implement. No I/O here.

Machines are matched to Kubernetes nodes by provider ID (`spec.providerID`),
never by IP address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from seal.model import Machine, NodeState


@dataclass(frozen=True)
class Check:
    """One line of `seal cloud check`: what was tried, whether it worked, and why not.

    `ok` is None when the cloud gives no way to know without acting (no dry run)."""

    name: str
    ok: bool | None
    detail: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        return f"{mark} {self.name}" + (f": {self.detail}" if self.detail else "")


class CloudDriver(Protocol):
    """List, stop and start machines. Errors are raised as `seal.errors.CloudError`,
    naming the machine and the cloud's reason."""

    name: str

    def list_machines(self) -> list[Machine]:
        """Every machine the driver can see (bounded pagination)."""
        ...

    def get_machine(self, provider_id: str) -> Machine:
        """One machine as it is now; `CloudError` when the cloud does not know it."""
        ...

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        """Ask the cloud to stop the machine; returns once the request is accepted."""
        ...

    def start(self, machine: Machine) -> None:
        """Ask the cloud to start the machine; returns once the request is accepted."""
        ...

    def wait_for(self, machine: Machine, state: NodeState, *, timeout: float) -> Machine:
        """Poll until the machine is in `state`; `CloudError` after `timeout` seconds."""
        ...

    def check(self) -> list[Check]:
        """Whether the credentials work and which permissions are missing, changing nothing."""
        ...


def provider_key(provider_id: str) -> str:
    """The form of a provider ID that nodes and machines are joined on (`Machine.key_of`)."""
    return Machine.key_of(provider_id)


def by_provider_id(machines: Iterable[Machine]) -> dict[str, Machine]:
    """Machines keyed by `provider_key(provider ID)`, the key nodes are joined on."""
    return {machine.key: machine for machine in machines}

"""The interface cloud drivers implement. No I/O here.

Machines are matched to Kubernetes nodes by provider ID (`spec.providerID`),
never by IP address.
"""

from __future__ import annotations

from typing import Protocol

from seal.model import Machine


class CloudDriver(Protocol):
    """List, stop and start machines. Errors are raised as `seal.errors.CloudError`."""

    name: str

    def list_machines(self) -> list[Machine]: ...

    def stop(self, machine: Machine, *, force: bool = False) -> None: ...

    def start(self, machine: Machine) -> None: ...

"""No cloud: machines cannot be listed, stopped or started. No I/O.

Stop and start fail with a clear error; they never pretend to have worked.
"""

from __future__ import annotations

from typing import Any

from seal.cloud import Check
from seal.errors import CloudError
from seal.model import Machine, NodeState

HINT = "no cloud driver: pass --cloud aws|gcp|azure|openstack|sandbox to act on machines"


class NoCloudDriver:
    """The driver in force when none is chosen: knows no machine, refuses every action."""

    name = "none"

    def list_machines(self) -> list[Machine]:
        return []

    def get_machine(self, provider_id: str) -> Machine:
        raise CloudError(f"cannot read machine {provider_id}: {HINT}")

    def stop(self, machine: Machine, *, force: bool = False) -> None:
        raise CloudError(f"cannot stop machine {machine.describe()}: {HINT}")

    def start(self, machine: Machine) -> None:
        raise CloudError(f"cannot start machine {machine.describe()}: {HINT}")

    def wait_for(self, machine: Machine, state: NodeState, *, timeout: float) -> Machine:
        raise CloudError(f"cannot watch machine {machine.describe()}: {HINT}")

    def check(self) -> list[Check]:
        return [Check("cloud driver", False, HINT)]


def create_driver(**options: Any) -> NoCloudDriver:
    return NoCloudDriver()

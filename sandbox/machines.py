"""Simulated virtual machines behind the sandbox's nodes. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from sandbox.store import ApiError


@dataclass
class Machine:
    id: str
    node_name: str
    zone: str
    ip: str
    running: bool = True

    @property
    def provider_id(self) -> str:
        return f"sandbox://{self.id}"

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["state"] = "running" if self.running else "stopped"
        data["providerID"] = self.provider_id
        return data


class Machines:
    """The machines, by id; `on_change(machine)` is called when one stops or starts."""

    def __init__(self) -> None:
        self.by_id: dict[str, Machine] = {}
        self.by_node: dict[str, Machine] = {}
        self.on_change: Callable[[Machine], None] = lambda machine: None

    def add(self, machine: Machine) -> None:
        self.by_id[machine.id] = machine
        self.by_node[machine.node_name] = machine

    def get(self, machine_id: str) -> Machine:
        try:
            return self.by_id[machine_id]
        except KeyError:
            raise ApiError(404, "NotFound", f'machine "{machine_id}" not found') from None

    def set_running(self, machine_id: str, running: bool) -> Machine:
        machine = self.get(machine_id)
        if machine.running != running:
            machine.running = running
            self.on_change(machine)
        return machine

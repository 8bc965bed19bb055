"""Simulated virtual machines behind the sandbox's nodes, and their admin API.

The admin API lives beside the Kubernetes API on the same server, under
`/sandbox/v1/`, never inside the Kubernetes paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from aiohttp import web

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
        self.on_change: Callable[[Machine], None] = lambda machine: None

    def add(self, machine: Machine) -> None:
        self.by_id[machine.id] = machine

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


def add_admin_routes(app: web.Application, machines: Machines) -> None:
    """GET /sandbox/v1/machines[/{id}], POST /sandbox/v1/machines/{id}/stop|start."""

    def answer(data: object, status: int = 200) -> web.Response:
        return web.json_response(data, status=status)

    def failure(error: ApiError) -> web.Response:
        return web.json_response(error.status(), status=error.code)

    async def list_machines(request: web.Request) -> web.Response:
        return answer({"machines": [m.as_json() for m in machines.by_id.values()]})

    async def get_machine(request: web.Request) -> web.Response:
        try:
            return answer(machines.get(request.match_info["id"]).as_json())
        except ApiError as exc:
            return failure(exc)

    async def power(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action not in ("stop", "start"):
            return failure(ApiError(404, "NotFound", f"unknown machine action {action!r}"))
        try:
            machine = machines.set_running(request.match_info["id"], action == "start")
        except ApiError as exc:
            return failure(exc)
        return answer(machine.as_json())

    app.router.add_get("/sandbox/v1/machines", list_machines)
    app.router.add_get("/sandbox/v1/machines/{id}", get_machine)
    app.router.add_post("/sandbox/v1/machines/{id}/{action}", power)

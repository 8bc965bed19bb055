"""The sandbox's admin API: what a cloud's console would do to the machines behind the
nodes. It lives beside the Kubernetes API on the same server, under `/sandbox/v1/`, never
inside the Kubernetes paths."""

from __future__ import annotations

from aiohttp import web

from sandbox.machines import Machines
from sandbox.store import ApiError


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

"""The sandbox's admin API: what a cloud's console would do to the machines behind the
nodes, and the commands pods ran on them (with the results they are to get). It lives
beside the Kubernetes API on the same server, under `/sandbox/v1/`, never inside the
Kubernetes paths."""

from __future__ import annotations

from aiohttp import web

from sandbox.executions import Executions, parse_rule
from sandbox.machines import Machines
from sandbox.metrics import CONTENT_TYPE, RequestMetrics
from sandbox.store import ApiError


def add_admin_routes(
    app: web.Application,
    machines: Machines,
    executions: Executions | None = None,
    metrics: RequestMetrics | None = None,
) -> None:
    """GET /sandbox/v1/machines[/{id}], POST /sandbox/v1/machines/{id}/stop|start; with
    `executions`, GET /sandbox/v1/executions and GET, POST, DELETE
    /sandbox/v1/executions/results; with `metrics`, GET /sandbox/v1/metrics (the API
    server's request counts, in Prometheus's text format)."""

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
    if executions is not None:
        _add_execution_routes(app, executions)
    if metrics is not None:
        counted = metrics

        async def show_metrics(request: web.Request) -> web.Response:
            return web.Response(
                body=counted.render().encode(), headers={"Content-Type": CONTENT_TYPE}
            )

        app.router.add_get("/sandbox/v1/metrics", show_metrics)


def _add_execution_routes(app: web.Application, executions: Executions) -> None:
    def failure(error: ApiError) -> web.Response:
        return web.json_response(error.status(), status=error.code)

    async def list_executions(request: web.Request) -> web.Response:
        return web.json_response({"executions": [e.as_json() for e in executions.done]})

    async def list_results(request: web.Request) -> web.Response:
        return web.json_response({"results": [r.as_json() for r in executions.rules]})

    async def add_result(request: web.Request) -> web.Response:
        try:
            try:
                body = await request.json()
            except ValueError as exc:
                raise ApiError(400, "BadRequest", f"the body is not JSON: {exc}") from exc
            rule = parse_rule(body)
            executions.add_rule(rule)
        except ApiError as exc:
            return failure(exc)
        return web.json_response(rule.as_json(), status=201)

    async def clear_results(request: web.Request) -> web.Response:
        executions.rules.clear()
        return web.json_response({"results": []})

    app.router.add_get("/sandbox/v1/executions", list_executions)
    app.router.add_get("/sandbox/v1/executions/results", list_results)
    app.router.add_post("/sandbox/v1/executions/results", add_result)
    app.router.add_delete("/sandbox/v1/executions/results", clear_results)

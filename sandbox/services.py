"""Real HTTP listeners on each service's cluster IP and port, answering as its pods would.

Binds sockets on 127.x.y.z addresses. The pods answer in-process: 200 with a small
JSON body on any path; the environment variables SEAL_SANDBOX_LATENCY_MS and
SEAL_SANDBOX_ERROR_RATE on a pod's first container add latency and errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from collections.abc import Sequence

from aiohttp import web
from aiohttp.web_server import Server

from sandbox import netchaos
from sandbox.podutil import container_env
from sandbox.store import Obj, Store

log = logging.getLogger(__name__)
LATENCY_ENV = "SEAL_SANDBOX_LATENCY_MS"
ERROR_RATE_ENV = "SEAL_SANDBOX_ERROR_RATE"


def _float(text: str | None, default: float = 0.0) -> float:
    try:
        return float(text) if text else default
    except ValueError:
        return default


class ServiceListeners:
    """Opens and closes one listener per (service, port) as services come and go."""

    def __init__(self, store: Store, rng: random.Random) -> None:
        self.store = store
        self.rng = rng
        self.servers: dict[tuple[str, str, int], asyncio.AbstractServer] = {}
        #: the HTTP handler behind each listener, which keeps its open connections
        self.handlers: dict[tuple[str, str, int], Server] = {}
        self.turn: dict[tuple[str, str], int] = {}
        self.failed: set[tuple[str, str, int]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: listener changes under way (awaited at stop, so that none is cut short)
        self._syncs: set[asyncio.Task[None]] = set()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.store.subscribe(self.on_event)
        for _, entry in self.store.entries("services"):
            self._start_sync(entry.obj, deleted=False)

    def _start_sync(self, service: Obj, *, deleted: bool) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self.sync(service, deleted=deleted))
        self._syncs.add(task)
        task.add_done_callback(self._syncs.discard)

    async def stop(self) -> None:
        if self._syncs:
            await asyncio.wait(set(self._syncs), timeout=5)
        for server in self.servers.values():
            server.close()
        # Close kept-alive connections too, so that no request handler is left pending.
        await asyncio.gather(*(h.shutdown(timeout=1) for h in self.handlers.values()))
        for server in self.servers.values():
            await server.wait_closed()
        self.servers.clear()
        self.handlers.clear()

    def on_event(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "services" and self._loop is not None:
            self._start_sync(obj, deleted=event_type == "DELETED")

    async def sync(self, service: Obj, *, deleted: bool) -> None:
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        ip = service.get("spec", {}).get("clusterIP", "")
        wanted: set[tuple[str, str, int]] = set()
        if not deleted and ip and ip != "None":
            for port in service.get("spec", {}).get("ports") or []:
                wanted.add((namespace, name, int(port.get("port", 0))))
        for key in [k for k in self.servers if k[:2] == (namespace, name) and k not in wanted]:
            self.servers.pop(key).close()
            handler = self.handlers.pop(key, None)
            if handler is not None:
                await handler.shutdown(timeout=1)
        for key in wanted - set(self.servers) - self.failed:
            await self._open(key, ip)

    async def _open(self, key: tuple[str, str, int], ip: str) -> None:
        namespace, name, port = key
        assert self._loop is not None

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            return await self.answer(namespace, name, request)

        handler = Server(handle)
        try:
            server = await self._loop.create_server(handler, ip, port)
        except OSError as exc:
            self.failed.add(key)
            log.warning(
                "cannot listen for service %s/%s on %s:%d: %s",
                namespace,
                name,
                ip,
                port,
                exc.strerror or exc,
            )
            return
        self.servers[key] = server
        self.handlers[key] = handler

    def _ready_pods(self, namespace: str, name: str) -> list[Obj]:
        endpoints = self.store.peek("endpoints", namespace, name)
        pods = []
        for subset in (endpoints or {}).get("subsets") or []:
            for address in subset.get("addresses") or []:
                ref = address.get("targetRef") or {}
                pod = self.store.peek("pods", namespace, ref.get("name", ""))
                if pod is not None and not pod["metadata"].get("deletionTimestamp"):
                    pods.append(pod)
        return pods

    async def answer(self, namespace: str, name: str, request: web.BaseRequest) -> web.Response:
        pods = self._ready_pods(namespace, name)
        if not pods:
            return web.Response(status=503, text=f"no ready endpoints for {namespace}/{name}\n")
        turn = self.turn.get((namespace, name), 0)
        self.turn[(namespace, name)] = turn + 1
        pod = pods[turn % len(pods)]
        latency = _float(container_env(pod, LATENCY_ENV)) + netchaos.request_delay_ms(
            pod,
            self.store.peek("services", namespace, name),
            netchaos.local_port(request.transport and request.transport.get_extra_info("sockname")),
            self.rng,
        )
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        body = {
            "pod": pod["metadata"]["name"],
            "namespace": namespace,
            "path": request.path,
            "method": request.method,
        }
        if self.rng.random() < _float(container_env(pod, ERROR_RATE_ENV)):
            return web.Response(
                status=500,
                body=json.dumps({**body, "error": "injected"}),
                content_type="application/json",
            )
        return web.Response(body=json.dumps(body), content_type="application/json")


def address_free(ip: str, ports: Sequence[int]) -> bool:
    """True when nothing on this machine listens on `ip` at any of `ports`: another
    sandbox of the same seed would choose the same cluster IPs."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((ip, port))
            except OSError:
                return False
    return True

"""The sandbox assembled: store, API server, admin API, controllers and service listeners,
on one event loop in a thread of its own. Serves on loopback; writes a kubeconfig.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import logging
import os
import random
import secrets
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from aiohttp import web

from sandbox import collection, rbac_defaults
from sandbox.access import Access
from sandbox.admin import add_admin_routes
from sandbox.api import Faults, build_api_app, default_log_lines
from sandbox.cluster import ClusterDescription, demo, seed
from sandbox.controllers.manager import ControllerManager
from sandbox.executions import Executions, runs_to_completion
from sandbox.machines import Machines
from sandbox.metrics import RequestMetrics
from sandbox.processes import ProcessRunner, RunImage
from sandbox.services import ServiceListeners, address_free
from sandbox.store import ApiError, Obj, Store
from sandbox.timing import SandboxTiming
from sandbox.tls import make_server_tls
from seal.errors import SealError

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTEXT = "seal-sandbox"


class PortInUse(SealError):
    """The port asked for is taken (the command line says which option chose it)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"{host}:{port} is already in use")
        self.host = host
        self.port = port


def write_private(path: Path, text: str) -> None:
    """Write `path` readable and writable by its owner only, from the moment it exists: a
    new file beside it, created 0600, then renamed over it."""
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(fresh, path)
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise


def kubeconfig_text(url: str, token: str, ca_pem: bytes) -> str:
    ca_data = base64.b64encode(ca_pem).decode()
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        f"current-context: {CONTEXT}\n"
        "clusters:\n"
        f"- name: {CONTEXT}\n"
        f"  cluster:\n    server: {url}\n    certificate-authority-data: {ca_data}\n"
        "contexts:\n"
        f"- name: {CONTEXT}\n"
        f"  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: default\n"
        "users:\n"
        f"- name: {CONTEXT}\n"
        f"  user:\n    token: {token}\n"
    )


class Sandbox:
    """A simulated cluster. `start()` returns once it serves; `stop()` tears it all down."""

    def __init__(
        self,
        cluster: ClusterDescription | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timing: SandboxTiming | None = None,
        faults: Faults | None = None,
        kubeconfig_path: Path | None = None,
        seed: int | None = None,
        run_images: list[RunImage] | None = None,
    ) -> None:
        self.cluster = cluster or demo()
        self.host = host
        self.port = port
        self.timing = timing or SandboxTiming()
        self.faults = faults
        self.token = secrets.token_urlsafe(24)
        self.rng = random.Random(seed)
        self.store = Store()
        #: authentication (the admin token, service-account tokens) and RBAC
        self.access = Access(self.store, lambda: self.token)
        self.machines = Machines()
        #: commands run by pods that run to completion, and the rules giving their results
        self.executions = Executions()
        #: the requests the API server served (GET /sandbox/v1/metrics shows them)
        self.request_metrics = RequestMetrics()
        self._tempdir = tempfile.TemporaryDirectory(prefix="seal-sandbox-")
        self.tls = make_server_tls(Path(self._tempdir.name) / "tls", host)
        self.ca_path = Path(self._tempdir.name) / "ca.crt"
        self.ca_path.write_bytes(self.tls.ca_pem)
        self.kubeconfig_path = kubeconfig_path or Path(self._tempdir.name) / "kubeconfig"
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._controllers: ControllerManager | None = None
        self._listeners: ServiceListeners | None = None
        #: containers whose image matches one of these run as real processes
        self.run_images = list(run_images or [])
        self.processes: ProcessRunner | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="seal-sandbox", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout=120)
            self.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
            self._write_kubeconfig()
        except BaseException:
            self.stop()
            raise

    def _write_kubeconfig(self) -> None:
        """The kubeconfig holds a credential: it is created readable by its owner only
        (never written first and restricted after), and replaced whole."""
        text = kubeconfig_text(self.url, self.token, self.tls.ca_pem)
        write_private(self.kubeconfig_path, text)

    def _serve(self, ready: Future[None]) -> None:
        collection.keep_out_of_full_passes()
        try:
            self._serve_loop(ready)
        finally:
            collection.release()

    def _serve_loop(self, ready: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start_async())
        except (OSError, SealError) as exc:
            failure = self._start_failure(exc)
            loop.run_until_complete(self._stop_async())
            loop.close()
            ready.set_exception(failure)
            return
        ready.set_result(None)
        loop.run_forever()
        loop.run_until_complete(self._stop_async())
        loop.close()

    def _log_lines(self, pod: Obj, container: str | None) -> list[str]:
        """A pod's log: what its process or command printed when it ran one, else a few
        lines."""
        printed = self.processes.log_lines(pod, container) if self.processes else None
        if printed is not None:
            return printed
        if not runs_to_completion(pod):
            return default_log_lines(pod, container)
        names = [str(c.get("name", "")) for c in pod["spec"].get("containers") or []]
        name = container or (names[0] if names else "")
        default_log_lines(pod, name)  # the same 400 for a container the pod does not have
        output = self.executions.output(pod, name)
        if output is None and pod.get("status", {}).get("phase", "Pending") != "Pending":
            return default_log_lines(pod, name)  # someone else played its node
        if output is None:
            raise ApiError(
                400,
                "BadRequest",
                f'container "{name}" in pod "{pod["metadata"]["name"]}" is waiting to start: '
                "ContainerCreating",
            )
        return output.splitlines()

    def _start_failure(self, exc: OSError | SealError) -> SealError:
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE and self.port:
            return PortInUse(self.host, self.port)
        return SealError(f"the sandbox could not start: {exc}")

    async def _start_async(self) -> None:
        loop = asyncio.get_running_loop()
        seed(self.store, self.machines, self.cluster, self.rng)
        rbac_defaults.install(self.store)
        app = build_api_app(
            self.store,
            token=lambda: self.token,
            faults=self.faults,
            log_lines=self._log_lines,
            access=self.access,
            metrics=self.request_metrics,
        )
        add_admin_routes(app, self.machines, self.executions, self.request_metrics)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self.host,
            self.port,
            backlog=1024,
            ssl_context=self.tls.server_context(),
        )
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"https://{self.host}:{self.port}"
        self._controllers = ControllerManager(
            self.store, self.machines, self.timing, self.rng, self.executions, address_free
        )
        if self.run_images:
            self.processes = ProcessRunner(
                self.store,
                self.run_images,
                api=(self.host, self.port),
                ca_pem=self.tls.ca_pem,
                mint=self.access.tokens.mint,
                workdir=Path(self._tempdir.name) / "pods",
            )
            self._controllers.context.runs_image = lambda image: bool(
                self.processes and self.processes.rule_for(image)
            )
            self.processes.start(loop)
        self._controllers.start(loop)
        self._listeners = ServiceListeners(self.store, self.rng)
        self._listeners.start(loop)
        await self._listening()

    async def _listening(self) -> None:
        """Wait (a few seconds at most) until every seeded service answers on its cluster IP."""
        assert self._listeners is not None
        wanted = {
            (e.obj["metadata"]["namespace"], e.obj["metadata"]["name"], int(p["port"]))
            for _, e in self.store.entries("services")
            for p in e.obj.get("spec", {}).get("ports") or []
        }
        for _ in range(500):
            if wanted <= set(self._listeners.servers) | self._listeners.failed:
                return
            await asyncio.sleep(0.01)
        log.warning(
            "some services are not listening yet: %s", sorted(wanted - set(self._listeners.servers))
        )

    async def _stop_async(self) -> None:
        if self.processes is not None:
            await self.processes.stop()
        self.store.closing = True
        if self._controllers is not None:
            await self._controllers.stop()
        if self._listeners is not None:
            await self._listeners.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._tempdir.cleanup()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- for tests
    def call(self, fn: Callable[[Store], T]) -> T:
        """Run `fn(store)` on the sandbox's loop and return its result."""
        if self._loop is None:
            raise SealError("the sandbox is not running")

        async def run() -> T:
            return fn(self.store)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def rotate_token(self) -> str:
        """Accept a new bearer token and refuse the old one, as a rotated credential
        would; the kubeconfig the sandbox wrote is rewritten with it."""
        self.token = secrets.token_urlsafe(24)
        self._write_kubeconfig()
        return self.token

    def stop_machine(self, machine_id: str) -> None:
        self.call(lambda store: self.machines.set_running(machine_id, False))

    def start_machine(self, machine_id: str) -> None:
        self.call(lambda store: self.machines.set_running(machine_id, True))

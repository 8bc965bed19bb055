"""The coordinator: starts the controllers, hands each the store's changes, and runs their
reconciliation on a short tick, in an order that lets one tick's work reach the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence

from sandbox.controllers.base import Context, Controller
from sandbox.controllers.disruption import DisruptionController
from sandbox.controllers.endpoints import EndpointsController
from sandbox.controllers.events import EventExpiry
from sandbox.controllers.garbage import GarbageCollector
from sandbox.controllers.index import OWNED, NodeIndex, OwnerIndex
from sandbox.controllers.kubelet import Kubelet
from sandbox.controllers.namespaces import NamespaceController
from sandbox.controllers.nodes import NodeLifecycle
from sandbox.controllers.scheduler import Scheduler
from sandbox.controllers.workloads import WorkloadController
from sandbox.executions import Executions
from sandbox.machines import Machines
from sandbox.store import ApiError, Obj, Store
from sandbox.timing import SandboxTiming

log = logging.getLogger(__name__)
Observer = Callable[[str, str, Obj], None]


class ControllerManager:
    def __init__(
        self,
        store: Store,
        machines: Machines,
        timing: SandboxTiming,
        rng: random.Random,
        executions: Executions | None = None,
        address_free: Callable[[str, Sequence[int]], bool] | None = None,
    ) -> None:
        self.context = Context(store, machines, timing, rng, executions, address_free)
        self.owners = OwnerIndex(store)
        self.nodes = NodeIndex(store)
        self.kubelet = Kubelet(self.context)
        #: in reconciliation order: deletions first, then workloads, placement, services
        self.controllers: tuple[Controller, ...] = (
            NamespaceController(self.context),
            GarbageCollector(self.context, self.owners),
            WorkloadController(self.context, self.owners),
            Scheduler(self.context, self.kubelet.start_later),
            self.kubelet,
            NodeLifecycle(self.context, self.kubelet, self.nodes),
            EndpointsController(self.context),
            DisruptionController(self.context),
            EventExpiry(self.context),
        )
        self._task: asyncio.Task[None] | None = None
        self._reported: set[str] = set()
        #: resource -> what observes its changes, in the order above (the indexes first)
        self._observers: dict[str, list[Observer]] = {}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.context.bind(loop)
        self.owners.seed()
        self.nodes.seed()
        for controller in self.controllers:
            controller.seed()
        self.context.store.subscribe(self.observe)
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        observers = self._observers.get(resource)
        if observers is None:
            observers = self._observers[resource] = self._observers_of(resource)
        for observer in observers:
            observer(event_type, resource, obj)

    def _observers_of(self, resource: str) -> list[Observer]:
        found: list[Observer] = []
        if resource in OWNED:
            found.append(self.owners.observe)
        if resource == "pods":
            found.append(self.nodes.observe)
        for controller in self.controllers:
            if controller.RESOURCES is None or resource in controller.RESOURCES:
                found.append(controller.observe)
        return found

    def tick(self) -> None:
        """One round of reconciliation; a controller's failure is its own (the next tick
        retries it), so the others carry on."""
        for controller in self.controllers:
            try:
                controller.reconcile()
            except ApiError as exc:  # a race with a client
                log.debug("reconcile conflict: %s", exc)
            except Exception as exc:  # the controllers must outlive any object
                text = f"{type(exc).__name__}: {exc}"
                if text not in self._reported and len(self._reported) < 100:
                    self._reported.add(text)
                    log.warning("a controller failed and will try again: %s", text, exc_info=True)

    async def _run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.context.timing.tick_seconds)

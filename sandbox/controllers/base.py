"""What the controllers share: the store, the machines, the timings, the random source,
and a way to act later on the sandbox's event loop. No I/O."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.executions import Executions
from sandbox.machines import Machines
from sandbox.store import Obj, Store
from sandbox.timing import SandboxTiming

#: (namespace, name); the namespace is "" for cluster-wide objects
Key = tuple[str, str]


def key_of(obj: Obj) -> Key:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


class Context:
    """Handed to every controller; `later` works once the coordinator has started."""

    def __init__(
        self,
        store: Store,
        machines: Machines,
        timing: SandboxTiming,
        rng: random.Random,
        executions: Executions | None = None,
        address_free: Callable[[str, Sequence[int]], bool] | None = None,
    ) -> None:
        self.store = store
        #: whether nothing on this machine listens on an address at those ports (the
        #: server's answer; controllers do no network I/O themselves)
        self.address_free = address_free or (lambda ip, ports: True)
        self.machines = machines
        self.timing = timing
        self.rng = rng
        self.executions = executions or Executions()
        #: whether containers of this image run as real processes (`--run-image`): their
        #: readiness and the end of their pod's deletion are the process runner's to say
        self.runs_image: Callable[[str], bool] = lambda image: False
        self._loop: asyncio.AbstractEventLoop | None = None

    def runs_processes(self, pod: Obj) -> bool:
        containers = pod.get("spec", {}).get("containers") or []
        return any(self.runs_image(str(c.get("image", ""))) for c in containers)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def later(self, seconds: float, callback: Callable[..., Any], *args: object) -> None:
        """Run `callback(*args)` on the loop after `seconds` (0: once the current change,
        and its notification, are over)."""
        assert self._loop is not None, "the controllers have not started"
        self._loop.call_later(seconds, callback, *args)


class Controller:
    """One job of the cluster. `observe` sees the changes the store makes to `RESOURCES`
    (every change when None; it must only note what to do); `reconcile` does it, on the
    coordinator's tick."""

    #: the resources whose changes `observe` looks at (None: all of them)
    RESOURCES: frozenset[str] | None = None

    def __init__(self, context: Context) -> None:
        self.context = context
        self.store = context.store

    def seed(self) -> None:
        """Learn what the store held before the controllers started."""

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        """A change the store made."""

    def reconcile(self) -> None:
        """Act on what changed since the last tick."""

"""What every step runs with: one frozen object of services, handed in by the runtime."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from seal.adapters.http import Prober
from seal.adapters.kube import KubeClient
from seal.adapters.kubectl import KubectlTarget
from seal.cloud import CloudDriver
from seal.metrics import Metrics
from seal.selection.safety import SafetyRules

log = logging.getLogger("seal.steps")


class StepClock(Protocol):
    def sleep(self, seconds: float) -> None: ...
    def monotonic(self) -> float: ...
    def local_now(self) -> dt.datetime: ...


class RecordedUndo(Protocol):
    @property
    def id(self) -> str: ...


class UndoRecorder(Protocol):
    """Writes an undo down before the change is made (bound to the running scenario)."""

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> RecordedUndo: ...
    def discard(self, entry: RecordedUndo) -> None: ...


@dataclass(frozen=True)
class StepContext:
    scenario: str
    kube: KubeClient
    kubectl: KubectlTarget
    prober: Prober
    metrics: Metrics
    clock: StepClock
    rng: random.Random
    undo: UndoRecorder
    safety: SafetyRules
    pool: ThreadPoolExecutor
    cloud: CloudDriver | None = None

    @property
    def dry_run(self) -> bool:
        return self.safety.dry_run


#: An undo handler: carries out one recorded undo, from its payload, with these services.
UndoHandler = Callable[[Mapping[str, Any], StepContext], None]

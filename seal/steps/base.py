"""What a step type is: its key, spec class, schema fragment, builder, run function, the
undos it records and the API calls it makes, typed end to end in its spec.

No I/O.
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from seal.errors import KubeError
from seal.frozen import frozen
from seal.model import Node, Pod
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.model import StepSpec
from seal.policy.problems import Location
from seal.policy.schema import Schema
from seal.selection.safety import SafetyRules
from seal.steps.ports import (
    Clock,
    CloudDriver,
    Executor,
    KubeApi,
    KubectlRunner,
    Metrics,
    NodeSource,
    Prober,
    UndoRecorder,
)

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where steps record Kubernetes Events (`seal.adapters.events.EventScope` in a run)."""

    def record(
        self,
        target: Pod | Node,
        *,
        reason: str,
        message: str,
        event_type: str = "Normal",
        folded_as: str = "",
    ) -> None:
        """Record an Event on `target`, never failing the step. `folded_as` (a verb such as
        "killed") lets a pod's Event be folded into a summary on its owner."""
        ...

    def flush(self) -> None:
        """Send what is recorded (bounded in time)."""
        ...


class KubeEvents:
    """Events sent at once, one request each, through the step's Kubernetes API."""

    def __init__(self, kube: KubeApi | None) -> None:
        self._kube = kube

    def record(
        self,
        target: Pod | Node,
        *,
        reason: str,
        message: str,
        event_type: str = "Normal",
        folded_as: str = "",
    ) -> None:
        if self._kube is None:
            return
        try:
            self._kube.create_event(target, reason=reason, message=message, event_type=event_type)
        except KubeError as exc:
            log.warning("could not record an Event on %s: %s", target.name, exc)

    def flush(self) -> None:
        """Nothing waits."""


#: stands for "send Events through the context's own kube" until the context is built
_KUBE_EVENTS: EventSink = KubeEvents(None)


@dataclass(frozen=True)
class StepContext:
    """Everything a step runs with, handed in by the runtime; one per scenario run."""

    scenario: str
    kube: KubeApi
    kubectl: KubectlRunner
    prober: Prober
    metrics: Metrics
    clock: Clock
    rng: random.Random
    undo: UndoRecorder
    safety: SafetyRules
    pool: concurrent.futures.Executor
    cloud: CloudDriver | None = None
    executor: Executor | None = None
    #: where nodes come from when not from the cluster (an inventory file)
    nodes: NodeSource | None = None
    #: where Events go (by default sent at once through `kube`)
    events: EventSink = _KUBE_EVENTS

    def __post_init__(self) -> None:
        if self.events is _KUBE_EVENTS:
            object.__setattr__(self, "events", KubeEvents(self.kube))

    @property
    def dry_run(self) -> bool:
        return self.safety.dry_run


#: Carries out one recorded undo, from its journal payload, with the services of the run.
UndoHandler = Callable[[Mapping[str, Any], StepContext], None]


#: stand-ins for namespaces known only when seal runs: the exec pods' (--exec-namespace),
#: and the one kubectl puts objects in that name none (the kubeconfig context's)
EXEC_NAMESPACE, CONTEXT_NAMESPACE = "{exec-namespace}", "{context-namespace}"
#: what recording Events takes: one per target, and a patch of the count when identical
#: Events repeat or many of one owner fold into a summary
EVENT_VERBS = ("create", "patch")


@frozen
class ApiCall:
    """One kind of Kubernetes API request a step makes, as an RBAC rule names it."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    #: where: a namespace; None for every namespace, or for a resource in none (nodes)
    namespace: str | None = None
    #: the one object it is made on, when known (get, patch, delete); "" for any
    name: str = ""


@frozen
class RetriesSpec:
    """Re-run the whole step: at most `count` times, or until `timeout` seconds pass."""

    count: int | None
    timeout: float | None
    sleep: float
    location: Location


SpecT = TypeVar("SpecT", bound=StepSpec)


def _no_calls(spec: Any) -> tuple[ApiCall, ...]:
    return ()


def _no_retries(spec: Any) -> RetriesSpec | None:
    return None


@dataclass(frozen=True, eq=False)
class StepType(Generic[SpecT]):
    """One kind of step. The registry lists these; the policy schema is made from them."""

    key: str
    spec: type[SpecT]
    schema: Schema
    builder: Callable[[DocNode], SpecT]
    runner: Callable[[SpecT, StepContext], StepOutcome]
    description: str = ""
    #: undo kind (as written in the journal) -> the handler that carries it out
    undo_handlers: Mapping[str, UndoHandler] = field(default_factory=dict)
    #: the API calls a spec of this type makes (for least-privilege roles)
    api_calls: Callable[[SpecT], tuple[ApiCall, ...]] = _no_calls
    #: how a failed run of a spec is retried (None: it is not)
    retries_of: Callable[[SpecT], RetriesSpec | None] = _no_retries

    def build(self, node: DocNode) -> SpecT:
        return self.builder(node)

    def run(self, spec: StepSpec, ctx: StepContext) -> StepOutcome:
        return self.runner(self._own(spec), ctx)

    def calls(self, spec: StepSpec) -> tuple[ApiCall, ...]:
        return self.api_calls(self._own(spec))

    def retries(self, spec: StepSpec) -> RetriesSpec | None:
        return self.retries_of(self._own(spec))

    def _own(self, spec: StepSpec) -> SpecT:
        if not isinstance(spec, self.spec):
            raise TypeError(f"{self.key} cannot run a {type(spec).__name__}")
        return spec

"""In-process step tests: a real `StepContext` on a sandbox, with a fake clock.

Every service is the real one (`KubeClient`, `Prober`, `Kubectl`, an `UndoJournal` in
tmp_path behind `ScenarioUndo`, `SafetyRules`, a thread pool) except time, which a
`FakeClock` drives so that no wait or retry really sleeps.
"""

from __future__ import annotations

import random
import re
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drivers._common import Pacing
from drivers.sandbox import SandboxDriver
from sandbox.cluster import ClusterDescription, DeploymentSpec, demo
from sandbox.sandbox import Sandbox
from sandbox.store import Store
from sandbox.timing import SandboxTiming
from seal.adapters.http import Prober
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import ClusterConnection, resolve
from seal.adapters.kubectl import Kubectl, KubectlTarget
from seal.metrics import NullMetrics
from seal.outcomes import StepOutcome
from seal.policy.loader import load_policy_text
from seal.policy.model import Policy, Safety, StepSpec
from seal.runtime.journal import UndoJournal
from seal.runtime.scenario import ScenarioUndo
from seal.runtime.services import SafetyFlags
from seal.selection.safety import SafetyRules
from seal.steps.base import StepContext, StepType
from seal.steps.ports import CloudDriver, Executor, RecordedUndo, UndoRecorder
from seal.steps.registry import STEP_TYPES
from tests.conftest import SandboxFactory
from tests.fakes import FakeClock

#: the demo cluster, plus pods in a protected namespace and two look-alike shops
CLUSTER = ClusterDescription(
    namespaces=("default", "kube-system", "myapp", "shop-a", "shop-b"),
    nodes=demo().nodes,
    deployments=(
        DeploymentSpec("goldpinger", "default", 3, {"app": "goldpinger"}, 8080),
        DeploymentSpec("my-service", "myapp", 3, {"app": "my-service"}, 80),
        DeploymentSpec("coredns", "kube-system", 2, {"app": "coredns"}, 9153),
        DeploymentSpec("web", "shop-a", 2, {"app": "web", "tier": "front"}, 8080),
        DeploymentSpec("web", "shop-b", 2, {"app": "web", "tier": "back"}, 8080),
    ),
    services=demo().services,
)
#: Monday 23 November 2026, 12:00 local time (the FakeClock's default)
MONDAY_NOON = FakeClock().local_now()
SCENARIO = "step under test"


class RecordingMetrics(NullMetrics):
    """Counts nothing, but remembers what it was told (kills come from several threads)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._lock = threading.Lock()

    def _note(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((name, args))

    def named(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [args for called, args in self.calls if called == name]

    def pod_killed(self, namespace: str, name: str, status: str) -> None:
        self._note("pod_killed", namespace, name, status)

    def node_stopped(self, node: str, status: str) -> None:
        self._note("node_stopped", node, status)

    def execute_failed(self, node: str) -> None:
        self._note("execute_failed", node)

    def events_dropped(self, count: int) -> None:
        self._note("events_dropped", count)

    def empty_match(self, source: str) -> None:
        self._note("empty_match", source)

    def empty_filter(self) -> None:
        self._note("empty_filter")

    def probability_filter_not_passed(self) -> None:
        self._note("probability_filter_not_passed")

    def probe_finished(self, target: str, outcome: str, latency: float) -> None:
        self._note("probe_finished", target, outcome)

    def load_requests(
        self, scenario: str, successes: Sequence[float], errors: Sequence[float]
    ) -> None:
        self._note("load_requests", scenario, len(successes), len(errors))

    def step_finished(self, scenario: str, step: str, result: str, duration: float) -> None:
        self._note("step_finished", scenario, step, result)

    def scenario_finished(self, name: str, result: str, duration: float) -> None:
        self._note("scenario_finished", name, result)

    def wait_for_seconds(self, scenario: str, step: str, seconds: float) -> None:
        self._note("wait_for_seconds", scenario, step, seconds)

    def recovery_seconds(self, scenario: str, step: str, seconds: float) -> None:
        self._note("recovery_seconds", scenario, step, seconds)

    def action_verified(self, result: str) -> None:
        self._note("action_verified", result)

    def pending_undos(self, count: int) -> None:
        self._note("pending_undos", count)

    def leader(self, is_leader: bool) -> None:
        self._note("leader", is_leader)

    def undo_failed(self, kind: str) -> None:
        self._note("undo_failed", kind)


def policy_text(steps: str, config: str = "") -> str:
    """A policy of one scenario holding `steps` (a YAML list), under `config`."""
    head = f"config:\n{textwrap.indent(textwrap.dedent(config).strip(), '  ')}\n" if config else ""
    body = textwrap.indent(textwrap.dedent(steps).strip(), "  ")
    return f"{head}scenarios:\n- name: {SCENARIO}\n  steps:\n{body}\n"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`th line of `text` that contains `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


@dataclass
class ObservingUndo:
    """The scenario's undo recorder, noting what the cluster held when an undo was written."""

    inner: UndoRecorder
    look: Callable[[], Any]
    seen: list[Any] = field(default_factory=list)

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> RecordedUndo:
        self.seen.append(self.look())
        return self.inner.record(kind, payload, description)

    def discard(self, entry: RecordedUndo) -> None:
        self.inner.discard(entry)


@dataclass
class StepHarness:
    """One sandbox and the real services a step runs with, time faked."""

    box: Sandbox
    connection: ClusterConnection
    kube: KubeClient
    kubectl: Kubectl
    prober: Prober
    journal: UndoJournal
    metrics: RecordingMetrics
    clock: FakeClock
    pool: ThreadPoolExecutor
    run_id: str = "step under test#0001"
    text: str = ""
    #: the cloud driver and executor steps get (none unless a test sets them)
    cloud: CloudDriver | None = None
    executor: Executor | None = None
    undo: UndoRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.undo = ScenarioUndo(self.journal, self.run_id, self.metrics)

    # ------------------------------------------------------------ building
    def policy(self, steps: str, config: str = "") -> Policy:
        self.text = policy_text(steps, config)
        return load_policy_text(self.text, STEP_TYPES, "steps.yml", {})

    def context(
        self, policy: Policy | None = None, *, seed: int = 7, undo: UndoRecorder | None = None
    ) -> StepContext:
        safety = SafetyRules.merge(
            policy.safety if policy is not None else Safety(), SafetyFlags(), {}
        )
        return StepContext(
            scenario=SCENARIO,
            kube=self.kube,
            kubectl=self.kubectl,
            prober=self.prober,
            metrics=self.metrics,
            clock=self.clock,
            rng=random.Random(seed),
            undo=undo or self.undo,
            safety=safety,
            pool=self.pool,
            cloud=self.cloud,
            executor=self.executor,
        )

    def sandbox_cloud(self) -> CloudDriver:
        """The sandbox's own cloud driver, as `--sandbox` picks it, set for the next runs."""
        self.cloud = SandboxDriver(
            self.box.url, token=self.box.token, ca_file=str(self.box.ca_path), pacing=Pacing.fast()
        )
        return self.cloud

    def spec(self, step: StepType[Any], steps: str, config: str = "") -> tuple[StepSpec, Policy]:
        policy = self.policy(steps, config)
        [scenario] = policy.scenarios
        [spec] = scenario.steps
        assert spec.key == step.key
        return spec, policy

    def run(
        self,
        step: StepType[Any],
        steps: str,
        config: str = "",
        *,
        seed: int = 7,
        undo: UndoRecorder | None = None,
    ) -> StepOutcome:
        """Load a one-step policy and run its step with `step.run`, as the executor does."""
        spec, policy = self.spec(step, steps, config)
        return step.run(spec, self.context(policy, seed=seed, undo=undo))

    def line(self, needle: str, occurrence: int = 1) -> int:
        return line_of(self.text, needle, occurrence)

    # ------------------------------------------------------------ looking at the cluster
    def store(self, fn: Callable[[Store], Any]) -> Any:
        return self.box.call(fn)

    def pods(self, namespace: str | None = None, selector: str | None = None) -> list[Any]:
        return list(self.box.call(lambda s: s.list("pods", namespace, label_selector=selector)))

    def uids(self, namespace: str | None = None, selector: str | None = None) -> dict[str, str]:
        """uid -> namespace/name of every pod there is (terminating or not)."""
        return {
            p["metadata"]["uid"]: f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in self.pods(namespace, selector)
        }

    def live(self, namespace: str | None = None, selector: str | None = None) -> set[str]:
        """namespace/name of the pods not being deleted."""
        return {
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in self.pods(namespace, selector)
            if not p["metadata"].get("deletionTimestamp")
        }

    def seal_events(self) -> list[Any]:
        return list(
            self.box.call(lambda s: [e for e in s.list("events") if e.get("reason") == "SealChaos"])
        )

    def label(self, resource: str, namespace: str, name: str, key: str, value: str) -> None:
        def change(obj: dict[str, Any]) -> None:
            obj["metadata"].setdefault("labels", {})[key] = value

        self.box.call(lambda s: s.mutate(resource, namespace, name, change))

    def killed(self) -> dict[str, str]:
        """namespace/name -> status of every pod_killed the metrics were told of."""
        return {f"{ns}/{name}": status for ns, name, status in self.metrics.named("pod_killed")}


def selected(outcome_error: BaseException) -> list[str]:
    """The pods a `checkPodCount: {count: 999}` action names in its failure."""
    found = re.search(r"expected 999 pod\(s\), found \d+: (.*)$", str(outcome_error))
    assert found, str(outcome_error)
    return [name.strip() for name in found.group(1).split(",") if name.strip()]


HarnessFactory = Callable[..., StepHarness]


@pytest.fixture
def harness_factory(sandbox_factory: SandboxFactory, tmp_path: Path) -> Iterator[HarnessFactory]:
    opened: list[StepHarness] = []

    def make(
        cluster: ClusterDescription | None = CLUSTER,
        *,
        timing: SandboxTiming | None = None,
        clock: FakeClock | None = None,
    ) -> StepHarness:
        box = sandbox_factory(cluster, timing=timing)
        connection = resolve(str(box.kubeconfig_path))
        clock = clock or FakeClock()
        journal = UndoJournal(tmp_path / f"state-{len(opened)}" / "journal.jsonl", clock=clock)
        harness = StepHarness(
            box=box,
            connection=connection,
            # A clock of its own: API backoffs are not the step's sleeps.
            kube=KubeClient(connection, clock=FakeClock(), pool_size=8),
            kubectl=Kubectl(KubectlTarget(connection.kubeconfig, connection.context)),
            prober=Prober(),
            journal=journal,
            metrics=RecordingMetrics(),
            clock=clock,
            pool=ThreadPoolExecutor(max_workers=4, thread_name_prefix="steps-test"),
        )
        opened.append(harness)
        return harness

    yield make
    for harness in opened:
        harness.pool.shutdown(wait=True)
        harness.journal.close()
        # Idle keep-alive connections would hold the sandbox's listeners open for a
        # second when it stops; the Prober has no close of its own.
        for manager in vars(harness.prober).get("_managers", {}).values():
            manager.clear()


@pytest.fixture
def harness(harness_factory: HarnessFactory) -> StepHarness:
    """The cluster of `CLUSTER`, with fast timings, and a fresh fake clock."""
    return harness_factory()

"""What running a step, a scenario or a set of undos came to: small values with the reason.

No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepResult = Literal["passed", "failed", "skipped", "interrupted"]
ScenarioResult = Literal[
    "passed", "failed", "skipped", "interrupted", "not-steady", "deviated", "aborted"
]
#: results that make a run fail (exit status 1, and fail-fast stops there): `not-steady`
#: (the steady state did not hold before the chaos), `deviated` (nor after it) and
#: `aborted` (users were hurt more than the policy allows, so the chaos was stopped) too
FAILING_RESULTS: tuple[ScenarioResult, ...] = ("failed", "not-steady", "deviated", "aborted")
#: what the evidence says about an action's effect: seen, seen not to have happened, or
#: not observable (never silently a success)
Verdict = Literal["verified", "not-verified", "unverified"]


@dataclass(frozen=True)
class ActionRecord:
    """One action a step carried out on one target (a pod killed, a machine stopped, a
    command run), with its outcome and what the evidence says about its effect."""

    #: what was done: "kill", "stop", "start", "execute", "apply", ...
    action: str
    #: what it was done to: "namespace/name" for a pod, the node's name for a machine
    target: str
    #: "ok" or "failed" (a dry run records "dry-run")
    outcome: str
    reason: str = ""
    verdict: Verdict = "unverified"
    #: seconds since the epoch when the action was carried out
    at: float = 0.0


@dataclass(frozen=True)
class StepOutcome:
    """One step's result. `skipped`: nothing to act on (an empty match, a dry run's probe)."""

    result: StepResult
    reason: str = ""
    targets: int = 0
    #: how long the step waited for its condition (waitFor), when it did
    seconds: float | None = None
    #: every action the step carried out, one per target
    actions: tuple[ActionRecord, ...] = ()
    #: seconds until the workloads and Services its kills or stops hit had recovered
    #: (recoveredWithin), when it was measured and they did
    recovery_seconds: float | None = None
    #: the step's key (`podAction`, `probeHTTP`, ...) and its place in the scenario (from
    #: 1; a steady-state probe's place in the hypothesis), stamped by the scenario runner
    key: str = ""
    index: int = 0
    #: seconds since the epoch when the step started, and how long it took
    started: float = 0.0
    duration: float = 0.0

    @classmethod
    def passed(cls, reason: str = "", targets: int = 0) -> StepOutcome:
        return cls("passed", reason, targets)

    @classmethod
    def skipped(cls, reason: str) -> StepOutcome:
        return cls("skipped", reason)

    @classmethod
    def failed(cls, reason: str, targets: int = 0) -> StepOutcome:
        return cls("failed", reason, targets)

    @property
    def ok(self) -> bool:
        return self.result in ("passed", "skipped")


@dataclass(frozen=True)
class UndoFailure:
    """An undo that could not be carried out; it stays in the journal."""

    id: str
    kind: str
    description: str
    reason: str


@dataclass(frozen=True)
class ReplayReport:
    """What replaying pending undos did: how many were carried out, which failed, and why."""

    undone: int = 0
    failed: tuple[UndoFailure, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def __add__(self, other: ReplayReport) -> ReplayReport:
        return ReplayReport(self.undone + other.undone, self.failed + other.failed)


@dataclass(frozen=True)
class LoadSecond:
    """One second of background load: the requests answered (or failed) in it, the
    errors among them, and their latency percentiles in milliseconds (None: no answer)."""

    #: whole seconds since the load started
    t: int
    requests: int
    errors: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class LoadReport:
    """What a scenario's background load did: its target and settings, its totals, and
    one `LoadSecond` per second it ran."""

    target: str
    users: int
    #: requests per second asked for, all users together
    rate: float
    duration: float
    requests: int
    errors: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    seconds: tuple[LoadSecond, ...] = ()

    @property
    def achieved_rate(self) -> float:
        """Requests answered (or failed) per second, on average."""
        return self.requests / self.duration if self.duration > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class ScenarioOutcome:
    """One run of one scenario: its result and reason, its steps, and its cleanup."""

    name: str
    result: ScenarioResult
    reason: str = ""
    duration: float = 0.0
    steps: tuple[StepOutcome, ...] = ()
    cleanup: ReplayReport = ReplayReport()

    #: the steady-state probes' outcomes, before the steps and after them
    steady_state: tuple[StepOutcome, ...] = ()
    #: what the background load measured, when the scenario had one
    load: LoadReport | None = None
    #: this run's id (`scenario#hex`, as in the undo journal) and when it started (seconds
    #: since the epoch)
    run_id: str = ""
    started: float = 0.0

    @property
    def targets(self) -> int:
        return sum(step.targets for step in self.steps)

    @property
    def failing(self) -> bool:
        return self.result in FAILING_RESULTS

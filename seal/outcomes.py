"""What running a step, a scenario or a set of undos came to: small values with the reason.

No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepResult = Literal["passed", "failed", "skipped", "interrupted"]
ScenarioResult = Literal["passed", "failed", "skipped", "interrupted", "not-steady", "deviated"]
#: results that make a run fail (exit status 1, and fail-fast stops there): `not-steady`
#: (the steady state did not hold before the chaos) and `deviated` (nor after it) too
FAILING_RESULTS: tuple[ScenarioResult, ...] = ("failed", "not-steady", "deviated")


@dataclass(frozen=True)
class StepOutcome:
    """One step's result. `skipped`: nothing to act on (an empty match, a dry run's probe)."""

    result: StepResult
    reason: str = ""
    targets: int = 0
    #: how long the step waited for its condition (waitFor), when it did
    seconds: float | None = None

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

    @property
    def targets(self) -> int:
        return sum(step.targets for step in self.steps)

    @property
    def failing(self) -> bool:
        return self.result in FAILING_RESULTS

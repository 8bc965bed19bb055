"""Running one scenario: its steps in order, then every undo it recorded, whatever happened."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from seal.errors import SealError
from seal.log import log_context
from seal.metrics import Metrics
from seal.policy.model import ScenarioSpec, StepSpec
from seal.policy.pipeline import RetriesSpec
from seal.runtime.clock import SystemClock
from seal.runtime.journal import UndoEntry, UndoJournal
from seal.runtime.retries import run_with_retries
from seal.runtime.runner import ScenarioResult
from seal.steps.context import RecordedUndo, StepContext, UndoHandler
from seal.steps.registry import STEPS_BY_KEY

log = logging.getLogger(__name__)


@dataclass
class ScenarioUndo:
    """The journal, bound to one run of one scenario."""

    journal: UndoJournal
    run_id: str
    metrics: Metrics

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> UndoEntry:
        entry = self.journal.record(kind, payload, scenario=self.run_id, description=description)
        self.metrics.pending_undos(len(self.journal))
        return entry

    def discard(self, entry: RecordedUndo) -> None:
        found = [e for e in self.journal.pending(self.run_id) if e.id == entry.id]
        for pending in found:
            self.journal.discard(pending)
        self.metrics.pending_undos(len(self.journal))


def all_undo_handlers() -> dict[str, UndoHandler]:
    handlers: dict[str, UndoHandler] = {}
    for step_type in STEPS_BY_KEY.values():
        handlers.update(step_type.load_runner()[1])
    return handlers


def bind_handlers(
    handlers: Mapping[str, UndoHandler], ctx: StepContext
) -> dict[str, Callable[[UndoEntry], None]]:
    def bind(handler: UndoHandler) -> Callable[[UndoEntry], None]:
        def undo(entry: UndoEntry) -> None:
            handler(entry.payload, ctx)

        return undo

    return {kind: bind(handler) for kind, handler in handlers.items()}


def replay_undos(
    journal: UndoJournal, ctx: StepContext, metrics: Metrics, scenario: str | None = None
) -> bool:
    """Carry out pending undos (of one scenario run, or all); True when none failed."""
    report = journal.replay(bind_handlers(all_undo_handlers(), ctx), scenario=scenario)
    for entry, _reason in report.failed:
        metrics.undo_failed(entry.kind)
    metrics.pending_undos(len(journal))
    return report.ok


class ScenarioExecutor:
    def __init__(
        self,
        make_context: Callable[[str, ScenarioUndo], StepContext],
        journal: UndoJournal,
        metrics: Metrics,
        clock: SystemClock,
    ) -> None:
        self.make_context = make_context
        self.journal = journal
        self.metrics = metrics
        self.clock = clock

    def __call__(self, scenario: ScenarioSpec) -> ScenarioResult:
        run_id = f"{scenario.name}#{uuid.uuid4().hex[:8]}"
        undo = ScenarioUndo(self.journal, run_id, self.metrics)
        ctx = self.make_context(scenario.name, undo)
        started = time.monotonic()
        result = ScenarioResult.PASSED
        with log_context(scenario=scenario.name):
            log.info("scenario starts: %d step(s)", len(scenario.steps))
            try:
                for index, step in enumerate(scenario.steps, 1):
                    self.clock.check()
                    if not self._run_step(index, step, ctx, scenario.name):
                        result = ScenarioResult.FAILED
                        break
            finally:
                with log_context(step="cleanup"):
                    if not replay_undos(self.journal, ctx, self.metrics, run_id):
                        result = ScenarioResult.FAILED
                duration = time.monotonic() - started
                self.metrics.scenario_finished(scenario.name, result.value, duration)
                log.info(
                    "scenario %s in %.1fs", result.value, duration, extra={"outcome": result.value}
                )
        return result

    def _run_step(self, index: int, step: StepSpec, ctx: StepContext, scenario: str) -> bool:
        label = f"{index}:{step.key}"
        run, _ = STEPS_BY_KEY[step.key].load_runner()
        started = time.monotonic()
        with log_context(step=label):
            retries: RetriesSpec | None = getattr(step, "retries", None)
            if not isinstance(retries, RetriesSpec):
                retries = None
            try:
                if retries is None:
                    run(step, ctx)
                else:
                    run_with_retries(
                        lambda: run(step, ctx),
                        self.clock,
                        count=retries.count,
                        timeout=retries.timeout,
                        sleep=retries.sleep,
                    )
            except SealError as exc:
                self.metrics.step_finished(scenario, step.key, "failed", time.monotonic() - started)
                log.error("step failed: %s", exc, extra={"outcome": "failed"})
                return False
            self.metrics.step_finished(scenario, step.key, "passed", time.monotonic() - started)
        return True

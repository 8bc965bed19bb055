"""Running one scenario: its steps in order, then every undo it recorded, whatever happened.

Acts only through the services it is given.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from seal.errors import ScenarioAborted, SealError, ShutdownRequested
from seal.log import log_context
from seal.metrics import Metrics
from seal.outcomes import ReplayReport, ScenarioOutcome, ScenarioResult, StepOutcome
from seal.policy.model import Policy, ScenarioSpec, StepSpec
from seal.runtime.background import ScenarioGuard
from seal.runtime.journal import UndoEntry, UndoJournal
from seal.runtime.journals import other_journals
from seal.runtime.retries import run_with_retries
from seal.runtime.services import Services
from seal.selection.safety import SafetyRules
from seal.steps.base import StepContext, StepType, UndoHandler
from seal.steps.ports import RecordedUndo
from seal.steps.registry import STEPS_BY_KEY, undo_handlers
from seal.tracing import (
    CLEANUP,
    SCENARIO,
    STEADY_STATE,
    record_cleanup,
    record_scenario,
    record_step,
    step_span,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScenarioUndo:
    """The journal, bound to one run of one scenario."""

    journal: UndoJournal
    run_id: str
    metrics: Metrics
    #: the policy file the scenario comes from, named in the journal and in undo log lines
    policy: str = ""

    def record(self, kind: str, payload: Mapping[str, Any], description: str) -> UndoEntry:
        entry = self.journal.record(
            kind, payload, scenario=self.run_id, description=description, policy=self.policy
        )
        self.metrics.pending_undos(len(self.journal))
        return entry

    def discard(self, entry: RecordedUndo) -> None:
        for pending in self.journal.pending(self.run_id):
            if pending.id == entry.id:
                self.journal.discard(pending)
        self.metrics.pending_undos(len(self.journal))


def _bound(
    handlers: Mapping[str, UndoHandler], ctx: StepContext
) -> dict[str, Callable[[UndoEntry], None]]:
    def bind(handler: UndoHandler) -> Callable[[UndoEntry], None]:
        return lambda entry: handler(entry.payload, ctx)

    return {kind: bind(handler) for kind, handler in handlers.items()}


def replay_undos(
    journal: UndoJournal, ctx: StepContext, metrics: Metrics, scenario: str | None = None
) -> ReplayReport:
    """Carry out pending undos (of one scenario run, or all), counting those that fail."""
    report = journal.replay(_bound(undo_handlers(), ctx), scenario=scenario)
    for failure in report.failed:
        metrics.undo_failed(failure.kind)
    metrics.pending_undos(len(journal))
    return report


def report_other_journals(journal: UndoJournal) -> None:
    """Warn about undos pending in the state directory for clusters other than this one:
    seal will not carry them out here, and they are not forgotten."""
    for other in other_journals(journal):
        log.warning(
            "%s: %d undo(s) pending for another cluster (%s); they are not carried out on "
            "this one: run `seal cleanup` against that cluster, or see `seal cleanup --list`",
            other.path,
            len(other.pending),
            other.clusters,
        )


def clean_leftovers(services: Services) -> ReplayReport:
    """Undo what an earlier, crashed run left in this cluster's journal; report what other
    clusters' journals still hold."""
    report_other_journals(services.journal)
    pending = services.journal.pending()
    if not pending:
        return ReplayReport()
    log.warning("an earlier run left %d undo(s) pending; carrying them out now", len(pending))
    undo = ScenarioUndo(services.journal, "cleanup", services.metrics)
    ctx = services.context("cleanup", undo, services.safety())
    return replay_undos(services.journal, ctx, services.metrics)


def policy_path(policy: Policy) -> str:
    """The policy's file as an absolute path (the journal may be read from elsewhere)."""
    return os.path.abspath(policy.source) if os.path.exists(policy.source) else policy.source


class ScenarioExecutor:
    """Runs scenarios of a policy with one set of services."""

    def __init__(
        self, services: Services, step_types: Mapping[str, StepType[Any]] = STEPS_BY_KEY
    ) -> None:
        self.services = services
        self.step_types = step_types
        self._rules: tuple[Policy, SafetyRules] | None = None

    def _safety(self, policy: Policy) -> SafetyRules:
        """The safety rules of a policy, merged once per loaded policy."""
        if self._rules is None or self._rules[0] is not policy:
            self._rules = (policy, self.services.safety(policy.safety))
        return self._rules[1]

    def run(self, scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        """Run the scenario inside its span (a child of the loop's)."""
        attributes = {"seal.scenario.name": scenario.name, "seal.policy.file": policy.source}
        with self.services.tracer.span(SCENARIO, attributes) as span:
            outcome = self._run(scenario, policy)
            record_scenario(span, outcome)
        return outcome

    def _run(self, scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        services = self.services
        run_id = f"{scenario.name}#{uuid.uuid4().hex[:8]}"
        undo = ScenarioUndo(services.journal, run_id, services.metrics, policy_path(policy))
        ctx = services.context(scenario.name, undo, self._safety(policy))
        started, began = services.clock.monotonic(), services.clock.now()
        steps: list[StepOutcome] = []
        steady = SteadyCheck()
        guard = ScenarioGuard(scenario, ctx, self.step_types)
        with log_context(scenario=scenario.name):
            log.info("scenario starts: %d step(s)", len(scenario.steps))
            try:
                steady.before = self._steady_state(scenario, ctx, "before", steady.outcomes)
                if steady.before is None:
                    self._guarded_steps(scenario, guard, steps)
            except ShutdownRequested:
                steps.append(StepOutcome("interrupted", "steady state: shutdown"))
            finally:
                self._run_rollbacks(scenario, ctx, steps)
                with (
                    log_context(step="cleanup"),
                    services.tracer.span(CLEANUP, {"seal.scenario.name": scenario.name}) as span,
                ):
                    cleanup = replay_undos(services.journal, ctx, services.metrics, run_id)
                    record_cleanup(span, cleanup)
                load = guard.stop()
                ctx.events.flush()  # the scenario's Events are in before it reports (bounded)
            if steady.before is None and all(s.ok for s in steps) and cleanup.ok:
                try:
                    steady.after = self._steady_state(scenario, ctx, "after", steady.outcomes)
                except ShutdownRequested:
                    steps.append(StepOutcome("interrupted", "steady state: shutdown"))
            outcome = _outcome(
                scenario, steps, cleanup, services.clock.monotonic() - started, steady
            )
            outcome = guard.conclude(replace(outcome, run_id=run_id, started=began), load)
            services.metrics.scenario_finished(scenario.name, outcome.result, outcome.duration)
            log.info(
                "scenario %s in %.1fs%s",
                outcome.result,
                outcome.duration,
                f": {outcome.reason}" if outcome.reason else "",
                extra={"outcome": outcome.result},
            )
        return outcome

    def _steady_state(
        self, scenario: ScenarioSpec, ctx: StepContext, when: str, seen: list[StepOutcome]
    ) -> str | None:
        """`_check_steady_state` inside the span of the check (when there is a hypothesis)."""
        if scenario.steady_state is None:
            return None
        attributes = {"seal.scenario.name": scenario.name, "seal.steady_state.phase": when}
        with self.services.tracer.span(STEADY_STATE, attributes) as span:
            problem = self._check_steady_state(scenario, ctx, when, seen)
            span.set_attributes({"seal.steady_state.met": problem is None})
            if problem is not None:
                span.fail(problem)
        return problem

    def _check_steady_state(
        self, scenario: ScenarioSpec, ctx: StepContext, when: str, seen: list[StepOutcome]
    ) -> str | None:
        """Check the scenario's steady-state hypothesis (every probe, each once): None when
        it holds (or there is none), else what did not hold."""
        hypothesis = scenario.steady_state
        if hypothesis is None:
            return None
        problems: list[str] = []
        clock = self.services.clock
        for index, probe in enumerate(hypothesis.probes, 1):
            started, began = clock.monotonic(), clock.now()
            with (
                log_context(step=f"steady-state {when}:{index}:{probe.key}"),
                step_span(self.services.tracer, scenario.name, index, probe.key, when) as span,
            ):
                try:
                    outcome = self.step_types[probe.key].run(probe, ctx)
                except ShutdownRequested:
                    raise
                except SealError as exc:
                    outcome = StepOutcome.failed(f"probe {index} ({probe.key}): {exc}")
                    log.warning("steady-state probe not met: %s", exc, extra={"outcome": "failed"})
                record_step(span, outcome)
            took = clock.monotonic() - started
            seen.append(replace(outcome, key=probe.key, index=index, started=began, duration=took))
            if not outcome.ok:
                problems.append(outcome.reason)
        title = f" '{hypothesis.title}'" if hypothesis.title else ""
        if not problems:
            log.info("steady state%s holds %s the steps", title, when)
            return None
        return f"steady state{title} not met {when} the steps: " + "; ".join(problems)

    def _guarded_steps(
        self, scenario: ScenarioSpec, guard: ScenarioGuard, steps: list[StepOutcome]
    ) -> None:
        """The steps, with the background load and the abortWhen probes running beside
        them; an abort stops them at once (the undos run as always)."""
        try:
            guard.start()
        except SealError as exc:
            steps.append(StepOutcome.failed(str(exc)))
            return
        try:
            self._run_steps(scenario, guard.context, steps)
        finally:
            guard.disarm()

    def _run_steps(
        self, scenario: ScenarioSpec, ctx: StepContext, steps: list[StepOutcome]
    ) -> None:
        for index, step in enumerate(scenario.steps, 1):
            try:
                ctx.clock.check()
                outcome = self._run_step(index, step, ctx, scenario.name)
            except ScenarioAborted:
                reason = f"step {index} ({step.key}): aborted"
                steps.append(StepOutcome("interrupted", reason, key=step.key, index=index))
                return
            except ShutdownRequested:
                reason = f"step {index} ({step.key}): shutdown"
                steps.append(StepOutcome("interrupted", reason, key=step.key, index=index))
                return
            steps.append(outcome)
            if not outcome.ok:
                return

    def _run_rollbacks(
        self, scenario: ScenarioSpec, ctx: StepContext, steps: list[StepOutcome]
    ) -> None:
        """The scenario's rollbacks, once its steps started (a steady state not met before
        them means nothing was done), whatever became of the steps: each runs even when the
        one before failed. They are numbered after the steps; a shutdown stops them."""
        if not scenario.rollbacks or not any(s.index for s in steps):
            return
        first = len(scenario.steps)
        for index, step in enumerate(scenario.rollbacks, first + 1):
            try:
                outcome = self._run_step(index, step, ctx, scenario.name, "rollbacks")
            except ShutdownRequested:
                reason = f"rollback {index - first} ({step.key}): shutdown"
                steps.append(StepOutcome("interrupted", reason, key=step.key, index=index))
                return
            if not outcome.ok:
                outcome = replace(outcome, reason=f"rollback {index - first}: {outcome.reason}")
            steps.append(outcome)

    def _run_step(
        self, index: int, step: StepSpec, ctx: StepContext, scenario: str, phase: str = "steps"
    ) -> StepOutcome:
        step_type = self.step_types[step.key]
        clock = self.services.clock
        started, began = clock.monotonic(), clock.now()
        with (
            log_context(step=f"{index}:{step.key}"),
            step_span(self.services.tracer, scenario, index, step.key, phase) as span,
        ):
            retries = step_type.retries(step)
            try:
                if retries is None:
                    outcome = step_type.run(step, ctx)
                else:
                    outcome = run_with_retries(
                        lambda: step_type.run(step, ctx),
                        ctx.clock,
                        count=retries.count,
                        timeout=retries.timeout,
                        sleep=retries.sleep,
                    )
            except SealError as exc:
                outcome = StepOutcome.failed(f"step {index} ({step.key}): {exc}")
                log.error("step failed: %s", exc, extra={"outcome": "failed"})
            result = "passed" if outcome.ok else "failed"
            self.services.metrics.step_finished(
                scenario, step.key, result, clock.monotonic() - started
            )
            record_step(span, outcome)
        duration = clock.monotonic() - started
        return replace(outcome, key=step.key, index=index, started=began, duration=duration)


@dataclass
class SteadyCheck:
    """What the steady-state hypothesis came to before and after the steps."""

    before: str | None = None
    after: str | None = None
    outcomes: list[StepOutcome] = field(default_factory=list)


def _outcome(
    scenario: ScenarioSpec,
    steps: list[StepOutcome],
    cleanup: ReplayReport,
    duration: float,
    steady: SteadyCheck,
) -> ScenarioOutcome:
    bad = next((s for s in steps if not s.ok), None)
    result: ScenarioResult
    if bad is not None:
        result = "interrupted" if bad.result == "interrupted" else "failed"
        reason = bad.reason
    elif steady.before is not None:
        result, reason = "not-steady", f"{steady.before}; no chaos done"
    elif not cleanup.ok:
        result, reason = "failed", f"{len(cleanup.failed)} undo(s) failed"
    elif steady.after is not None:
        result, reason = "deviated", steady.after
    else:
        result, reason = "passed", ""
    return ScenarioOutcome(
        scenario.name,
        result,
        reason,
        duration,
        tuple(steps),
        cleanup,
        steady_state=tuple(steady.outcomes),
    )

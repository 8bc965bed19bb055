"""The engine behind the shell: each action runs as a policy step, with its own slice of
the undo journal (undos recorded before the change), so that `undo` can take back the
last action and leaving the shell takes back everything.

Acts on the cluster and the cloud through the services it is given.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from seal.errors import SealError
from seal.log import log_context
from seal.model import Node, Pod
from seal.outcomes import ReplayReport, StepOutcome
from seal.policy.model import StepSpec
from seal.runtime.journal import UndoEntry
from seal.runtime.scenario import ScenarioUndo, replay_undos
from seal.runtime.services import Services
from seal.selection.safety import SafetyRules
from seal.steps import machines, node_action
from seal.steps.base import StepContext
from seal.steps.node_action import ExecuteAction, NodeActionSpec, StartAction, StopAction
from seal.steps.pipeline import WaitAction, apply_filters
from seal.steps.pod_action.run import run_action, select_pods
from seal.steps.pod_action.spec import PodActionSpec
from seal.steps.registry import STEPS_BY_KEY

log = logging.getLogger(__name__)

SCENARIO = "interactive"

#: asked before acting on more targets than the threshold: (what, target names) -> go on?
Confirm = Callable[[str, Sequence[str]], bool]


@dataclass
class Action:
    """One action the user took, and the slice of the journal its undos are in."""

    number: int
    run_id: str
    command: str


@dataclass
class Result:
    """What an action did, in words, and whether it went as asked."""

    ok: bool
    message: str
    targets: list[str] = field(default_factory=list)


class Session:
    """The actions of one shell session against one cluster."""

    def __init__(
        self,
        services: Services,
        rules: SafetyRules,
        *,
        confirm_above: int = 5,
        confirm: Confirm | None = None,
    ) -> None:
        self.services = services
        self.rules = rules
        self.confirm_above = confirm_above
        self.confirm = confirm or (lambda what, names: True)
        self.actions: list[Action] = []
        self.session_id = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------ contexts
    def context(self, run_id: str) -> StepContext:
        undo = ScenarioUndo(self.services.journal, run_id, self.services.metrics, "<interactive>")
        return self.services.context(SCENARIO, undo, self.rules)

    def reader(self) -> StepContext:
        """A context for looking only (listing nodes with their machines)."""
        return self.context(f"{SCENARIO}#{self.session_id}-look")

    def _new_action(self, command: str) -> tuple[Action, StepContext]:
        number = len(self.actions) + 1
        action = Action(number, f"{SCENARIO}#{self.session_id}-{number}", command)
        self.actions.append(action)
        return action, self.context(action.run_id)

    # ------------------------------------------------------------- actions
    def run(self, command: str, spec: StepSpec) -> Result:
        """Carry out one step; its undos go to the journal before each change."""
        action, ctx = self._new_action(command)
        started = self.services.clock.monotonic()
        with log_context(scenario=SCENARIO, step=f"{action.number}:{spec.key}"):
            try:
                result = self._run(spec, ctx)
            except SealError as exc:
                log.error("%s failed: %s", command, exc, extra={"outcome": "failed"})
                result = Result(False, _unlocated(str(exc)))
        took = self.services.clock.monotonic() - started
        outcome = "passed" if result.ok else "failed"
        self.services.metrics.step_finished(SCENARIO, spec.key, outcome, took)
        return result

    def _run(self, spec: StepSpec, ctx: StepContext) -> Result:
        if isinstance(spec, PodActionSpec):
            return self._pods(spec, ctx)
        if isinstance(spec, NodeActionSpec):
            return self._nodes(spec, ctx)
        return _from_outcome(STEPS_BY_KEY[spec.key].run(spec, ctx))

    def _go_ahead(self, what: str, names: list[str]) -> bool:
        if len(names) <= self.confirm_above:
            return True
        return self.confirm(what, names)

    def _pods(self, spec: PodActionSpec, ctx: StepContext) -> Result:
        pods: list[Pod] = apply_filters(select_pods(spec, ctx), spec.filters, ctx)
        if not pods:
            return Result(True, "no pod matched (or the safety rules left none); nothing done")
        names = [p.key for p in pods]
        ctx.safety.check_target_count(len(pods), "pods")
        if not self._go_ahead("pods", names):
            return Result(False, "not confirmed; nothing done")
        acted = 0
        for step_action in spec.actions:
            acted = max(acted, run_action(step_action, pods, ctx))
        verb = "would act on" if ctx.dry_run else "acted on"
        return Result(True, f"{verb} {acted or len(pods)} pod(s)", names)

    def _nodes(self, spec: NodeActionSpec, ctx: StepContext) -> Result:
        targets, why_none = node_action.select(spec, ctx)
        if not targets:
            return Result(True, f"{why_none}; nothing done")
        names = [n.name for n in targets]
        ctx.safety.check_target_count(len(targets), "nodes")
        if not self._go_ahead("nodes", names):
            return Result(False, "not confirmed; nothing done")
        done = [_node_action(a, targets, ctx) for a in spec.actions]
        if ctx.dry_run:
            return Result(True, f"dry run: {len(names)} node(s) selected, nothing changed", names)
        return Result(True, ", ".join(d for d in done if d), names)

    # --------------------------------------------------------------- undos
    def pending(self) -> list[UndoEntry]:
        return self.services.journal.pending()

    def _replay(self, run_id: str) -> ReplayReport:
        with log_context(scenario=SCENARIO, step="undo"):
            return replay_undos(
                self.services.journal, self.context(run_id), self.services.metrics, run_id
            )

    def undo_last(self) -> tuple[Action | None, ReplayReport]:
        """Undo the latest action that still has undos pending."""
        for action in reversed(self.actions):
            if self.services.journal.pending(action.run_id):
                return action, self._replay(action.run_id)
        return None, ReplayReport()

    def undo_all(self) -> ReplayReport:
        """Undo every action of the session, latest first, then anything else pending."""
        report = ReplayReport()
        for action in reversed(self.actions):
            if self.services.journal.pending(action.run_id):
                report = report + self._replay(action.run_id)
        if self.services.journal.pending():
            with log_context(scenario=SCENARIO, step="undo"):
                ctx = self.context(f"{SCENARIO}#{self.session_id}-cleanup")
                report = report + replay_undos(self.services.journal, ctx, self.services.metrics)
        return report


def _node_action(action: Any, targets: list[Node], ctx: StepContext) -> str:
    if isinstance(action, StopAction):
        count = machines.stop_machines(
            ctx,
            targets,
            force=action.force,
            auto_restart=action.auto_restart,
            location=action.location,
            timeout=action.timeout,
        )
        return f"{count} machine(s) stopped"
    if isinstance(action, StartAction):
        count = machines.start_machines(
            ctx, targets, location=action.location, timeout=action.timeout
        )
        return f"{count} machine(s) started"
    if isinstance(action, ExecuteAction):
        count = machines.execute(
            ctx, targets, action.cmd, location=action.location, timeout=action.timeout
        )
        return f"ran {action.cmd!r} on {count} node(s)"
    if isinstance(action, WaitAction):
        ctx.clock.sleep(action.seconds)
    return ""


def _unlocated(message: str) -> str:
    """A step's message without the line of the one-step policy a command stands for."""
    return re.sub(r"^line \d+: | \(line \d+\)", "", message)


def _from_outcome(outcome: StepOutcome) -> Result:
    reason = _unlocated(outcome.reason)
    return Result(outcome.ok, f"{outcome.result}: {reason}" if reason else "")

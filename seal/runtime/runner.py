"""The policy runner loop: re-read the policy, run scenarios, sleep between loops, decide
the exit code.

Does I/O only through what it is given (a policy loader, a scenario executor,
the clock, metrics).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from seal.errors import PolicyError, ShutdownRequested
from seal.outcomes import FAILING_RESULTS, ScenarioOutcome
from seal.policy.model import Policy, ScenarioSpec
from seal.runtime.windows import ScheduleGate
from seal.tracing import LOOP, NULL_TRACER, AttributeValue, Tracer, record_loop

log = logging.getLogger(__name__)

#: exit status: every scenario passed; one failed; usage or policy error; the cluster could
#: not be reached. A run stopped by a signal exits with 128 + the signal (130 SIGINT, 143 SIGTERM).
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class RunnerClock(Protocol):
    def sleep(self, seconds: float, *, interruptible: bool = True) -> None: ...
    def now(self) -> float: ...


class ReloadMetrics(Protocol):
    def policy_reload_failed(self) -> None: ...
    def scenarios_known(self, names: Sequence[str]) -> None: ...
    def schedule_state(self, open_now: bool, reason: str, next_open: float | None) -> None: ...


#: the scenario runs a summary keeps whole, at least (a daemon runs forever: older ones
#: are only counted, in the tallies; whole runs serve the latest loop's trace and an
#: experiment's journal, and each holds every action of its steps, so few are kept)
KEEP_OUTCOMES = 100


@dataclass
class ScenarioTally:
    """Every run of one scenario, added up as they end."""

    runs: int = 0
    results: Counter[str] = field(default_factory=Counter)
    duration: float = 0.0
    targets: int = 0
    undos_done: int = 0
    undos_left: int = 0
    last_reason: str = ""

    def add(self, outcome: ScenarioOutcome) -> None:
        self.runs += 1
        self.results[outcome.result] += 1
        self.duration += outcome.duration
        self.targets += outcome.targets
        self.undos_done += outcome.cleanup.undone
        self.undos_left += len(outcome.cleanup.failed)
        self.last_reason = outcome.reason or self.last_reason


@dataclass
class RunSummary:
    """What a run came to: its loops, every scenario run counted (per scenario, in the
    order they first ran), and the latest KEEP_OUTCOMES runs whole."""

    loops: int = 0
    outcomes: list[ScenarioOutcome] = field(default_factory=list)
    interrupted: bool = False
    tallies: dict[str, ScenarioTally] = field(default_factory=dict)
    #: scenario runs added since the start (`outcomes` holds the latest of them)
    added: int = 0

    def __post_init__(self) -> None:
        given, self.outcomes = self.outcomes, []
        for outcome in given:  # runs handed over whole are counted too
            self.add(outcome)

    def add(self, outcome: ScenarioOutcome) -> None:
        self.added += 1
        self.tallies.setdefault(outcome.name, ScenarioTally()).add(outcome)
        self.outcomes.append(outcome)
        if len(self.outcomes) > 2 * KEEP_OUTCOMES:  # trimmed now and then, not every run
            del self.outcomes[:-KEEP_OUTCOMES]

    def since(self, added: int) -> list[ScenarioOutcome]:
        """The runs added after the `added`th (those still kept)."""
        fresh = self.added - added
        return self.outcomes[-fresh:] if fresh > 0 else []

    def count(self, result: str) -> int:
        return sum(t.results[result] for t in self.tallies.values())

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        """Runs that failed: `failed`, and `not-steady` and `deviated` too."""
        return sum(self.count(result) for result in FAILING_RESULTS)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_PASSED


RunScenario = Callable[[ScenarioSpec, Policy], ScenarioOutcome]


class PolicyRunner:
    """Runs the loops of a policy until `runs` is reached, fail-fast stops it, or shutdown.

    The first loop starts at once; between two loops the runner sleeps a random
    time between the policy's min and max; there is no sleep after the last loop.
    Outside the policy's schedule (config.schedule) no scenario starts: the runner
    waits for the next window.
    """

    def __init__(
        self,
        load_policy: Callable[[], Policy],
        run_scenario: RunScenario,
        *,
        clock: RunnerClock,
        rng: random.Random,
        metrics: ReloadMetrics,
        initial_policy: Policy | None = None,
        tracer: Tracer = NULL_TRACER,
    ) -> None:
        self._load = load_policy
        self._run_scenario = run_scenario
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._policy = initial_policy
        self._tracer = tracer
        self._gate = ScheduleGate(clock, metrics, self._reload)

    def _reload(self) -> Policy:
        """The policy as it is on disk now; on a broken edit, the last good one."""
        try:
            self._policy = self._load()
            self._metrics.scenarios_known([s.name for s in self._policy.scenarios])
        except PolicyError as exc:
            if self._policy is None:
                raise
            self._metrics.policy_reload_failed()
            log.error(
                "the policy file no longer validates; carrying on with the last good policy",
                extra={"problems": len(exc.problems), "first_problem": exc.problems[0]},
            )
        return self._policy

    def _scenarios_for_loop(self, policy: Policy) -> Sequence[ScenarioSpec]:
        if not policy.scenarios:
            return []
        if policy.run_strategy.strategy == "random":
            return [self._rng.choice(list(policy.scenarios))]
        return list(policy.scenarios)

    def run(self) -> RunSummary:
        summary = RunSummary()
        try:
            self._loop(summary)
        except ShutdownRequested:
            summary.interrupted = True
        if summary.interrupted:
            log.warning("shutdown requested; stopped after cleanup")
        return summary

    def _loop(self, summary: RunSummary) -> None:
        while True:
            policy = self._reload()
            strategy = policy.run_strategy
            if not policy.scenarios:
                log.info("the policy has no scenarios; nothing to do")
                return
            if strategy.runs is not None and summary.loops >= strategy.runs:
                return
            if summary.loops:
                pause = self._rng.uniform(strategy.min_seconds, strategy.max_seconds)
                log.info("sleeping %.1fs before loop %d", pause, summary.loops + 1)
                self._clock.sleep(pause)
            # a loop counts once its schedule lets it start (a run stopped while waiting
            # for a window ran no loop)
            policy = self._gate.wait(policy)
            summary.loops += 1
            if self._traced_loop(policy, summary):
                return

    def _traced_loop(self, policy: Policy, summary: RunSummary) -> bool:
        """`_run_loop` inside the loop's span: each loop is a trace of its own."""
        seen = summary.added
        attributes: dict[str, AttributeValue] = {
            "seal.loop.number": summary.loops,
            "seal.policy.file": policy.source,
            "seal.loop.strategy": policy.run_strategy.strategy,
        }
        with self._tracer.span(LOOP, attributes) as span:
            try:
                return self._run_loop(policy, summary)
            finally:
                record_loop(span, summary.since(seen))

    def _run_loop(self, policy: Policy, summary: RunSummary) -> bool:
        """One loop over the policy's scenarios; True when the run must stop."""
        for planned in self._scenarios_for_loop(policy):
            scenario = planned
            now_policy = self._gate.wait(policy)
            if now_policy is not policy:  # re-read while waiting for the schedule
                policy = now_policy
                fresh = [s for s in policy.scenarios if s.name == planned.name]
                if not fresh:
                    log.info("scenario %r left the policy while seal waited", planned.name)
                    continue
                scenario = fresh[0]
            outcome = self._run_scenario(scenario, policy)
            summary.add(outcome)
            if outcome.result == "interrupted":
                summary.interrupted = True
                return True
            if outcome.failing and policy.fail_fast:
                log.error(
                    "scenario %r %s; exitStrategy is fail-fast", scenario.name, outcome.result
                )
                return True
        return False

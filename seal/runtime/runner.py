"""The policy runner loop: re-read the policy, sleep, run scenarios, decide the exit code.

Does I/O only through what it is given (a policy loader, a scenario executor,
the clock, metrics).
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from seal.errors import PolicyError
from seal.policy.model import Policy, ScenarioSpec
from seal.runtime.clock import ShutdownRequested

log = logging.getLogger(__name__)


class ScenarioResult(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"


class RunnerClock(Protocol):
    def sleep(self, seconds: float) -> None: ...


class ReloadMetrics(Protocol):
    def policy_reload_failed(self) -> None: ...
    def scenarios_known(self, names: Sequence[str]) -> None: ...


@dataclass
class RunSummary:
    loops: int = 0
    passed: int = 0
    failed: int = 0
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class PolicyRunner:
    """Runs the loops of a policy until `runs` is reached, fail-fast stops it, or shutdown."""

    def __init__(
        self,
        load_policy: Callable[[], Policy],
        run_scenario: Callable[[ScenarioSpec], ScenarioResult],
        *,
        clock: RunnerClock,
        rng: random.Random,
        metrics: ReloadMetrics,
        initial_policy: Policy | None = None,
    ) -> None:
        self._load = load_policy
        self._run_scenario = run_scenario
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._policy = initial_policy

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
            log.warning("shutdown requested; stopping after cleanup")
        return summary

    def _loop(self, summary: RunSummary) -> None:
        while True:
            policy = self._reload()
            strategy = policy.run_strategy
            if strategy.runs is not None and summary.loops >= strategy.runs:
                return
            pause = self._rng.uniform(strategy.min_seconds, strategy.max_seconds)
            log.info("sleeping %.1fs before loop %d", pause, summary.loops + 1)
            self._clock.sleep(pause)
            summary.loops += 1
            for scenario in self._scenarios_for_loop(policy):
                result = self._run_scenario(scenario)
                if result is ScenarioResult.PASSED:
                    summary.passed += 1
                    continue
                summary.failed += 1
                if policy.fail_fast:
                    log.error("scenario %r failed; exitStrategy is fail-fast", scenario.name)
                    return

"""The policy loop: runs, strategies, fail-fast, and a broken edit keeping the last good policy."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from seal.errors import PolicyError
from seal.outcomes import ScenarioOutcome, ScenarioResult
from seal.policy.loader import load_policy_text
from seal.policy.model import Policy, ScenarioSpec
from seal.runtime.runner import PolicyRunner
from seal.runtime.summary import COLUMNS, table
from seal.steps.registry import STEP_TYPES


class Clock:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        self.slept.append(seconds)


class Metrics:
    def __init__(self) -> None:
        self.reload_failures = 0

    def policy_reload_failed(self) -> None:
        self.reload_failures += 1

    def scenarios_known(self, names: Sequence[str]) -> None:
        self.known = list(names)


def outcome(scenario: ScenarioSpec, result: ScenarioResult = "passed") -> ScenarioOutcome:
    return ScenarioOutcome(scenario.name, result)


def policy(config: str, names: list[str]) -> Policy:
    scenarios = "".join(f"- name: {n}\n  steps: []\n" for n in names)
    return load_policy_text(f"config:\n{config}\nscenarios:\n{scenarios}", STEP_TYPES, "p.yml", {})


def test_round_robin_runs_every_scenario_each_loop_and_sleeps_only_between_loops() -> None:
    ran: list[str] = []
    current = policy(
        "  runStrategy: {runs: 2, minSecondsBetweenRuns: 3, maxSecondsBetweenRuns: 3}",
        ["one", "two"],
    )
    clock = Clock()

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        ran.append(scenario.name)
        return outcome(scenario)

    summary = PolicyRunner(
        lambda: current, run, clock=clock, rng=random.Random(1), metrics=Metrics()
    ).run()
    assert ran == ["one", "two", "one", "two"]
    assert clock.slept == [3.0]
    assert (summary.loops, summary.passed, summary.exit_code) == (2, 4, 0)


def test_random_picks_one_scenario_per_loop_reproducibly() -> None:
    current = policy(
        "  runStrategy: {strategy: random, runs: 5, maxSecondsBetweenRuns: 0}",
        ["one", "two", "three"],
    )

    def picks(seed: int) -> list[str]:
        ran: list[str] = []

        def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
            ran.append(scenario.name)
            return outcome(scenario)

        PolicyRunner(
            lambda: current, run, clock=Clock(), rng=random.Random(seed), metrics=Metrics()
        ).run()
        return ran

    assert len(picks(4)) == 5
    assert picks(4) == picks(4)


def test_fail_fast_stops_at_the_first_failure_and_report_carries_on() -> None:
    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        return outcome(scenario, "failed" if scenario.name == "bad" else "passed")

    for strategy, expected_runs in (("fail-fast", 1), ("report", 3)):
        current = policy(
            f"  runStrategy: {{runs: 3, maxSecondsBetweenRuns: 0}}\n"
            f"  exitStrategy: {{strategy: {strategy}}}",
            ["bad"],
        )
        summary = PolicyRunner(
            lambda current=current: current,
            run,
            clock=Clock(),
            rng=random.Random(1),
            metrics=Metrics(),
        ).run()
        assert summary.failed == expected_runs
        assert summary.exit_code == 1


def test_a_broken_edit_keeps_the_last_good_policy_running() -> None:
    good = policy("  runStrategy: {runs: 3, maxSecondsBetweenRuns: 0}", ["steady"])
    loads = [good, PolicyError(["p.yml:1:1: broken"]), good]
    ran: list[str] = []
    metrics = Metrics()

    def load() -> Policy:
        item = loads.pop(0) if loads else good
        if isinstance(item, PolicyError):
            raise item
        return item

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        ran.append(scenario.name)
        return outcome(scenario)

    PolicyRunner(
        load, run, clock=Clock(), rng=random.Random(1), metrics=metrics, initial_policy=good
    ).run()
    assert ran == ["steady"] * 3
    assert metrics.reload_failures == 1


def test_an_invalid_policy_at_the_start_is_raised() -> None:
    def load() -> Policy:
        raise PolicyError(["p.yml:1:1: broken"])

    with pytest.raises(PolicyError):
        PolicyRunner(
            load,
            lambda s, p: outcome(s),
            clock=Clock(),
            rng=random.Random(1),
            metrics=Metrics(),
        ).run()


def test_the_first_loop_starts_at_once_and_one_run_never_sleeps() -> None:
    current = policy("  runStrategy: {runs: 1, minSecondsBetweenRuns: 200}", ["only"])
    clock = Clock()
    summary = PolicyRunner(
        lambda: current,
        lambda s, p: outcome(s),
        clock=clock,
        rng=random.Random(1),
        metrics=Metrics(),
    ).run()
    assert (summary.loops, summary.passed, clock.slept) == (1, 1, [])


def test_a_policy_without_scenarios_ends_at_once() -> None:
    current = load_policy_text("scenarios: []\n", STEP_TYPES, "p.yml", {})
    clock = Clock()
    summary = PolicyRunner(
        lambda: current,
        lambda s, p: outcome(s),
        clock=clock,
        rng=random.Random(1),
        metrics=Metrics(),
    ).run()
    assert (summary.loops, summary.exit_code, clock.slept) == (0, 0, [])
    assert table(summary) == ["run summary: 0 loop(s)", _header()]


def _header() -> str:
    return "  ".join(COLUMNS)


def test_an_interrupted_scenario_stops_the_run_and_is_not_counted_as_passed() -> None:
    current = policy("  runStrategy: {runs: 3, maxSecondsBetweenRuns: 0}", ["one", "two"])
    ran: list[str] = []

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        ran.append(scenario.name)
        return outcome(scenario, "interrupted")

    summary = PolicyRunner(
        lambda: current, run, clock=Clock(), rng=random.Random(1), metrics=Metrics()
    ).run()
    assert ran == ["one"]
    assert summary.interrupted
    assert (summary.passed, summary.failed, summary.count("interrupted")) == (0, 0, 1)


def test_a_daemons_summary_keeps_the_latest_runs_and_counts_every_one() -> None:
    from seal.runtime.runner import KEEP_OUTCOMES

    current = policy(
        "  runStrategy: {runs: 3000, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}",
        ["good", "bad one"],
    )
    loops = 0

    def run(scenario: ScenarioSpec, policy: Policy) -> ScenarioOutcome:
        nonlocal loops
        loops += scenario.name == "good"
        failing = scenario.name == "bad one" and loops % 3 == 0
        return ScenarioOutcome(scenario.name, "failed" if failing else "passed", f"loop {loops}")

    summary = PolicyRunner(
        lambda: current, run, clock=Clock(), rng=random.Random(1), metrics=Metrics()
    ).run()
    assert summary.added == 6000
    assert KEEP_OUTCOMES <= len(summary.outcomes) <= 2 * KEEP_OUTCOMES
    assert summary.outcomes[-1].reason == "loop 3000"
    assert (summary.passed, summary.failed) == (5000, 1000)
    from seal.runtime.summary import rows

    assert [(r.scenario, r.runs, r.passed, r.failed) for r in rows(summary)] == [
        ("good", 3000, 3000, 0),
        ("bad one", 3000, 2000, 1000),
    ]
    assert summary.since(summary.added - 2) == summary.outcomes[-2:]

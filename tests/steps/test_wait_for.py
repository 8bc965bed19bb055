"""waitFor in process: a real probe polled against the sandbox, time on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from seal.errors import PolicyError, StepFailed
from seal.steps import wait_for
from tests.fakes import FakeClock
from tests.steps.conftest import SCENARIO, HarnessFactory, StepHarness

LABELLED = """\
- waitFor:
    probe: {probePods: {namespace: default, selector: 'app=goldpinger,seal-test=ready',
                        count: 3}}
    timeout: 30
    interval: 2
"""


class ClockWithEvent(FakeClock):
    """A fake clock that does something to the cluster at its n-th sleep."""

    def __init__(self, at_sleep: int, event: Callable[[], None]) -> None:
        super().__init__()
        self.at_sleep, self.event = at_sleep, event

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        super().sleep(seconds, interruptible=interruptible)
        if len(self.slept) == self.at_sleep:
            self.event()


def label_goldpingers(h: StepHarness) -> None:
    for pod in h.pods("default", "app=goldpinger"):
        h.label("pods", "default", pod["metadata"]["name"], "seal-test", "ready")


def test_a_condition_that_holds_at_once_passes_without_sleeping(harness: StepHarness) -> None:
    outcome = harness.run(
        wait_for.STEP,
        """\
        - waitFor:
            probe: {probeDeployment: {name: goldpinger, namespace: default}}
            timeout: 30
            name: goldpinger-ready
        """,
    )
    assert outcome.result == "passed" and outcome.seconds == 0.0
    assert outcome.reason.startswith("held after 0.0s (1 check(s)): probeDeployment")
    assert harness.clock.slept == []
    assert harness.metrics.named("wait_for_seconds") == [(SCENARIO, "goldpinger-ready", 0.0)]


def test_the_wait_polls_until_the_condition_holds_and_records_the_time(
    harness_factory: HarnessFactory,
) -> None:
    holder: list[StepHarness] = []
    clock = ClockWithEvent(3, lambda: label_goldpingers(holder[0]))
    h = harness_factory(clock=clock)
    holder.append(h)
    outcome = h.run(wait_for.STEP, LABELLED)
    assert outcome.result == "passed"
    assert clock.slept == [2, 2, 2]
    assert outcome.seconds == 6.0
    assert outcome.reason.startswith("held after 6.0s (4 check(s)): probePods")
    step_label = f"probePods@line{h.line('waitFor')}"
    assert h.metrics.named("wait_for_seconds") == [(SCENARIO, step_label, 6.0)]


def test_the_timeout_fails_the_step_with_the_last_observed_value(harness: StepHarness) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(wait_for.STEP, LABELLED.replace("timeout: 30", "timeout: 5"))
    assert harness.clock.slept == [2, 2, 1]
    message = str(failure.value)
    assert "did not hold within 5s (waited 5.0s)" in message
    assert "last: probePods pods app=goldpinger,seal-test=ready in default: " in message
    assert "0 of 0 pod(s) Ready; expected = 3" in message
    assert harness.metrics.named("wait_for_seconds") == []


def test_an_http_probe_with_a_tolerance_can_be_waited_for(harness: StepHarness) -> None:
    outcome = harness.run(
        wait_for.STEP,
        """\
        - waitFor:
            probe:
              probeHTTP:
                target: {service: {name: goldpinger, namespace: default, port: 8080}}
                tolerance: {status: [200, 204]}
            timeout: 10
        """,
    )
    assert outcome.result == "passed" and outcome.seconds == 0.0


def test_a_dry_run_reports_a_wait_that_does_not_hold_now_without_waiting(
    harness: StepHarness,
) -> None:
    outcome = harness.run(wait_for.STEP, LABELLED, "safety: {dryRun: true}")
    assert outcome.result == "skipped"
    assert outcome.reason.startswith("dry run: does not hold now: dry run: the probe fails now")
    assert harness.clock.slept == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("probe: {wait: {seconds: 1}}, timeout: 3", "unknown probe 'wait'"),
        ("probe: {}, timeout: 3", "an empty probe; give one of: probeDeployment"),
        ("probe: {probePods: {namespace: x}}", "missing required key 'timeout'"),
        ("probe: {probePods: {namespace: x}}, timeout: 3, interval: 0", "must be > 0"),
        ("probe: {probePods: {namespace: x, count: {to: -1, from: 2}}}, timeout: 3", "empty"),
    ],
)
def test_bad_waits_are_located_policy_errors(harness: StepHarness, body: str, message: str) -> None:
    with pytest.raises(PolicyError) as failure:
        harness.policy(f"- waitFor: {{{body}}}")
    [problem] = failure.value.problems
    assert problem.startswith(f"steps.yml:{harness.line('waitFor')}:")
    assert message in problem


def test_an_interval_longer_than_the_timeout_is_a_warning(harness: StepHarness) -> None:
    policy = harness.policy(
        "- waitFor: {probe: {probePods: {namespace: x}}, timeout: 3, interval: 5}"
    )
    [warning] = policy.warnings
    assert "interval (5 s) is longer than timeout (3 s)" in warning

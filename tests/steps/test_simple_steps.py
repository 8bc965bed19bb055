"""wait in process (clone: tests/steps/test_clone.py)."""

from __future__ import annotations

import pytest

from seal.errors import ShutdownRequested
from seal.steps import wait
from tests.steps.conftest import StepHarness


def test_wait_advances_the_fake_clock_by_exactly_the_seconds(harness: StepHarness) -> None:
    started = harness.clock.now()
    outcome = harness.run(wait.STEP, "- wait: {seconds: 2.5}")
    assert outcome.result == "passed"
    assert outcome.reason == "waited 2.5s"
    assert harness.clock.slept == [2.5]
    assert harness.clock.now() == started + 2.5
    assert harness.run(wait.STEP, "- wait: {seconds: 0}").result == "passed"
    assert harness.clock.slept == [2.5, 0]


def test_a_shutdown_cuts_a_wait_short(harness: StepHarness) -> None:
    harness.clock.shutdown_after = 0
    with pytest.raises(ShutdownRequested):
        harness.run(wait.STEP, "- wait: {seconds: 30}")
    assert harness.clock.now() == harness.clock.start

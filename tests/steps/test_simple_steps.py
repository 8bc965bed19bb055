"""wait and clone in process."""

from __future__ import annotations

import pytest

from seal.errors import ShutdownRequested, StepFailed
from seal.steps import clone, wait
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


def deployments(h: StepHarness) -> dict[str, str]:
    return {
        f"{d['metadata']['namespace']}/{d['metadata']['name']}": d["metadata"]["resourceVersion"]
        for d in h.store(lambda store: store.list("deployments"))
    }


def test_clone_fails_clearly_and_changes_nothing(harness: StepHarness) -> None:
    before = deployments(harness)
    service = harness.store(lambda store: store.get("services", "default", "goldpinger"))
    with pytest.raises(StepFailed) as failure:
        harness.run(
            clone.STEP,
            """\
            - clone:
                source: {deployment: {name: goldpinger, namespace: default}}
                replicas: 2
                servicesToRetarget: [{service: {name: goldpinger, namespace: default}}]
                mutations:
                - environment: {name: SEAL_SANDBOX_ERROR_RATE, value: "1"}
            """,
        )
    line = harness.line("- clone:") + 1
    assert str(failure.value) == (
        f"the clone step (line {line}) is not available in this version of seal; "
        "nothing was changed"
    )
    assert deployments(harness) == before
    after = harness.store(lambda store: store.get("services", "default", "goldpinger"))
    assert after["spec"]["selector"] == service["spec"]["selector"] == {"app": "goldpinger"}
    assert len(harness.journal) == 0

"""probePods, probeDeployment and probeLogs in process, against the sandbox's real API."""

from __future__ import annotations

import pytest

from seal.errors import PolicyError, StepFailed
from seal.steps import probe_deployment, probe_logs, probe_pods
from tests.autonomous.helpers import scale
from tests.conftest import wait_for
from tests.steps.conftest import StepHarness


def test_probe_pods_passes_when_every_pod_of_the_selector_is_ready(harness: StepHarness) -> None:
    outcome = harness.run(
        probe_pods.STEP, "- probePods: {namespace: default, selector: app=goldpinger}"
    )
    assert outcome.result == "passed"
    assert outcome.reason == "probePods pods app=goldpinger in default: 3 of 3 pod(s) Ready"


def test_probe_pods_counts_a_phase_against_a_range(harness: StepHarness) -> None:
    outcome = harness.run(
        probe_pods.STEP,
        "- probePods: {namespace: myapp, condition: Running, count: {from: 2, to: 3}}",
    )
    assert outcome.result == "passed" and "3 of 3 pod(s) Running" in outcome.reason
    with pytest.raises(StepFailed) as failure:
        harness.run(
            probe_pods.STEP,
            "- probePods: {namespace: myapp, condition: Running, count: {from: 4}}",
        )
    assert str(failure.value) == (
        "probePods pods (all) in myapp: 3 of 3 pod(s) Running; expected >= 4"
    )


def test_probe_pods_fails_naming_what_it_saw_and_when_none_match(
    harness: StepHarness,
) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(
            probe_pods.STEP,
            "- probePods: {namespace: shop-a, selector: app=web, condition: Succeeded}",
        )
    assert str(failure.value) == (
        "probePods pods app=web in shop-a: 0 of 2 pod(s) Succeeded; expected all 2 Succeeded"
    )
    with pytest.raises(StepFailed, match="no pod matches; expected every one Ready"):
        harness.run(probe_pods.STEP, "- probePods: {namespace: default, selector: app=nope}")


def test_probe_deployment_compares_available_with_desired(harness: StepHarness) -> None:
    outcome = harness.run(
        probe_deployment.STEP, "- probeDeployment: {name: goldpinger, namespace: default}"
    )
    assert outcome.result == "passed"
    assert outcome.reason.endswith(
        "3 available and 3 ready of 3 desired replica(s), 3 Ready pod(s)"
    )
    scale(harness.box, "default", "goldpinger", 5)
    with pytest.raises(StepFailed) as failure:
        harness.run(
            probe_deployment.STEP, "- probeDeployment: {name: goldpinger, namespace: default}"
        )
    assert str(failure.value) == (
        "probeDeployment default/goldpinger: 3 available and 3 ready of 5 desired replica(s), "
        "3 Ready pod(s); expected all 5 available and ready"
    )
    # a tolerance on the available replicas alone
    tolerant = harness.run(
        probe_deployment.STEP,
        "- probeDeployment: {name: goldpinger, namespace: default, available: {from: 3}}",
    )
    assert tolerant.result == "passed"
    with pytest.raises(StepFailed, match="default/nope: the Deployment does not exist"):
        harness.run(probe_deployment.STEP, "- probeDeployment: {name: nope, namespace: default}")


def test_probe_logs_counts_matching_lines_of_each_pod(harness: StepHarness) -> None:
    outcome = harness.run(
        probe_logs.STEP,
        "- probeLogs: {namespace: default, selector: app=goldpinger, pattern: ': ready$'}",
    )
    assert outcome.result == "passed"
    assert "3 matching line(s) in the last 100 of 3 pod(s)" in outcome.reason
    assert "goldpinger" in outcome.reason and ": ready" in outcome.reason
    exact = harness.run(
        probe_logs.STEP,
        "- probeLogs: {namespace: default, selector: app=goldpinger, pattern: listening,"
        " tailLines: 2, count: 3}",
    )
    assert exact.result == "passed"
    # tailLines 1 keeps only the last line of each log: no "listening" left
    with pytest.raises(StepFailed) as failure:
        harness.run(
            probe_logs.STEP,
            "- probeLogs: {namespace: default, selector: app=goldpinger, pattern: listening,"
            " tailLines: 1}",
        )
    assert "0 matching line(s) in the last 1 of 3 pod(s); expected >= 1" in str(failure.value)
    with pytest.raises(StepFailed, match=r"ERROR.*; expected = 0"):
        harness.run(
            probe_logs.STEP,
            "- probeLogs: {namespace: myapp, pattern: 'ready|ERROR', count: 0}",
        )


def test_probe_logs_of_a_missing_container_fails_with_the_api_message(
    harness: StepHarness,
) -> None:
    with pytest.raises(StepFailed, match=r"cannot read the log of goldpinger-.*not valid"):
        harness.run(
            probe_logs.STEP,
            "- probeLogs: {namespace: default, selector: app=goldpinger, pattern: x,"
            " container: nope}",
        )


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("probePods: {namespace: x, count: {from: 3, to: 1}}", "the range is empty"),
        ("probePods: {namespace: x, count: {regex: '('}}", "not a valid regular expression"),
        ("probePods: {namespace: x, count: {from: 1, regex: a}}", "not both"),
        ("probePods: {namespace: x, count: {min: 1}}", "unknown key 'min'"),
        ("probePods: {namespace: x, count: []}", "at least 1 item"),
        ("probePods: {namespace: x, condition: Healthy}", "must be one of Ready, Pending"),
        ("probeLogs: {namespace: x, pattern: '['}", "not a valid regular expression"),
        ("probeDeployment: {name: x}", "missing required key 'namespace'"),
    ],
)
def test_bad_probes_are_located_policy_errors(
    harness: StepHarness, step: str, message: str
) -> None:
    with pytest.raises(PolicyError) as failure:
        harness.policy(f"- {step}")
    [problem] = failure.value.problems
    assert problem.startswith(f"steps.yml:{harness.line(step.split(':', maxsplit=1)[0])}:")
    assert message in problem


def test_a_scaled_deployment_passes_once_its_new_replica_is_ready(harness: StepHarness) -> None:
    scale(harness.box, "default", "goldpinger", 4)
    wait_for(lambda: _passes(harness), timeout=30, what="the fourth replica")


def _passes(h: StepHarness) -> bool:
    try:
        h.run(probe_deployment.STEP, "- probeDeployment: {name: goldpinger, namespace: default}")
    except StepFailed:
        return False
    return True

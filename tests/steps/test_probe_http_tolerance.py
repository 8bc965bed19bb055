"""probeHTTP's tolerance on status, body and latency, against the sandbox's service listeners."""

from __future__ import annotations

import pytest

from seal.errors import PolicyError, StepFailed
from seal.steps.probe_http import STEP
from tests.steps.conftest import StepHarness

TARGET = "target: {service: {name: goldpinger, namespace: default, port: 8080}}"


def probe(tolerance: str, extra: str = "") -> str:
    return f"- probeHTTP: {{{TARGET}, endpoint: /ping, tolerance: {tolerance}{extra}}}"


def test_a_status_tolerance_replaces_the_code(harness: StepHarness) -> None:
    outcome = harness.run(STEP, probe("{status: {from: 200, to: 299}}", ", code: 503"))
    assert outcome.result == "passed"
    assert outcome.reason == "1 request(s) answered within status between 200 and 299"
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, probe("{status: [500, 503]}", ", retries: 2"))
    assert str(failure.value).endswith(
        "failed 2 time(s); last: answered 200, expected status one of 500, 503"
    )
    assert harness.metrics.named("probe_finished")[-1][1] == "wrong-code"


def test_a_body_tolerance_checks_the_answer_text(harness: StepHarness) -> None:
    outcome = harness.run(STEP, probe('{body: {regex: \'"path": "/ping"\'}}'))
    assert outcome.result == "passed"
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, probe("{body: {regex: healthy}}", ", retries: 1"))
    message = str(failure.value)
    assert 'last: body: observed \'{"pod": "goldpinger-' in message
    assert message.endswith("expected matching /healthy/")
    assert harness.metrics.named("probe_finished")[-1][1] == "out-of-tolerance"


def test_a_latency_tolerance_in_milliseconds(harness: StepHarness) -> None:
    fast = harness.run(STEP, probe("{latencyMs: {to: 5000}, status: 200}"))
    assert fast.reason == "1 request(s) answered within status = 200, latency ms <= 5000"
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, probe("{latencyMs: {from: 60000}}", ", retries: 1"))
    assert "expected latency >= 60000" in str(failure.value)
    assert "last: took " in str(failure.value)


def test_without_a_tolerance_the_probe_answers_as_before(harness: StepHarness) -> None:
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, f"- probeHTTP: {{{TARGET}, code: 204, retries: 1}}")
    assert str(failure.value).endswith("last: answered 200, expected 204")


def test_an_unknown_tolerance_key_is_located(harness: StepHarness) -> None:
    with pytest.raises(PolicyError) as failure:
        harness.policy(probe("{latency: {to: 5}}"))
    [problem] = failure.value.problems
    assert problem.startswith(f"steps.yml:{harness.line('probeHTTP')}:")
    assert "unknown key 'latency'" in problem and "latencyMs" in problem

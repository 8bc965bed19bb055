"""A pod seal kills is a `seal.action` span, a child of its step's span."""

from __future__ import annotations

from pathlib import Path

from tests.tracing.conftest import Receiver, Recorder
from tests.tracing.test_tracing_e2e import POLICY, only, run_seal


def test_a_killed_pod_is_an_action_span_of_its_step(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    policy = POLICY.replace(
        "{{kill: {{force: true}}}}", "{{kill: {{force: true, recoveredWithin: 30}}}}"
    )
    result = run_seal(
        tmp_path, policy.format(url=probed_service.url), "--otlp-endpoint", otlp_receiver.url
    )
    assert result.returncode == 0, result.stderr
    kill = only(otlp_receiver.named("seal.step"), **{"seal.step.key": "podAction"})
    (action,) = otlp_receiver.named("seal.action")
    assert action.parent_id == kill.span_id
    assert action.trace_id == kill.trace_id
    assert action.attributes["seal.action.name"] == "kill"
    assert action.attributes["seal.action.target"].startswith("default/goldpinger")
    assert action.attributes["seal.action.outcome"] == "ok"
    assert action.attributes["seal.action.verdict"] == "verified"  # the pod is gone
    assert kill.start_ns <= action.start_ns <= kill.end_ns
    # recoveredWithin: the time until the Deployment and its Service were whole again
    assert 0 < kill.attributes["seal.step.recovery_seconds"] < 30

"""A Chaos Toolkit experiment traced: its hypothesis, method and rollbacks as spans, and
its http probe joined to the trace."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tracing.conftest import Receiver, Recorder
from tests.tracing.test_tracing_e2e import only, run_seal


def scale(name: str, replicas: int) -> dict[str, object]:
    return {
        "type": "action",
        "name": name,
        "provider": {
            "type": "python",
            "module": "chaosk8s.deployment.actions",
            "func": "scale_deployment",
            "arguments": {"name": "goldpinger", "replicas": replicas, "ns": "default"},
        },
    }


def test_an_experiment_s_method_and_rollbacks_are_spans(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    experiment = {
        "title": "goldpinger scales",
        "description": "scale up, roll back",
        "steady-state-hypothesis": {
            "title": "it answers",
            "probes": [
                {
                    "type": "probe",
                    "name": "it-answers",
                    "tolerance": 200,
                    "provider": {"type": "http", "url": f"{probed_service.url}/hello"},
                }
            ],
        },
        "method": [scale("scale-up", 4)],
        "rollbacks": [scale("scale-back", 3)],
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    result = run_seal(
        tmp_path,
        path.read_text(),
        "--otlp-endpoint",
        otlp_receiver.url,
        "--journal-path",
        str(tmp_path / "journal.json"),
        policy_name="experiment.json",
    )
    assert result.returncode == 0, result.stderr
    (scenario,) = otlp_receiver.named("seal.scenario")
    assert scenario.attributes["seal.scenario.name"] == "goldpinger scales"
    steps = otlp_receiver.named("seal.step")
    method = only(steps, **{"seal.step.phase": "steps"})
    rollback = only(steps, **{"seal.step.phase": "rollbacks"})
    assert (method.attributes["seal.step.index"], rollback.attributes["seal.step.index"]) == (1, 2)
    assert method.attributes["seal.step.key"] == rollback.attributes["seal.step.key"]
    assert method.parent_id == rollback.parent_id == scenario.span_id
    assert method.end_ns <= rollback.start_ns
    (cleanup,) = otlp_receiver.named("seal.cleanup")
    assert cleanup.attributes["seal.cleanup.undone"] == 1
    assert rollback.end_ns <= cleanup.start_ns
    before = only(steps, **{"seal.step.phase": "before"})
    first_probe = probed_service.requests[0][1]["traceparent"]
    assert first_probe.split("-")[1:3] == [before.trace_id, before.span_id]

"""`seal autonomous --sandbox --otlp-endpoint`: the spans a collector receives, their parent
chain, and the `traceparent` the probed service is sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.autonomous.helpers import REPO
from tests.conftest import wait_for
from tests.tracing.conftest import ReceivedSpan, Receiver, Recorder

POLICY = """\
config:
  runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
scenarios:
- name: kill a goldpinger and probe
  steadyState:
    title: the service answers
    probes:
    - probeHTTP: {{target: {{url: "{url}"}}, endpoint: /steady}}
  steps:
  - podAction:
      matches: [{{labels: {{selector: app=goldpinger, namespace: default}}}}]
      filters: [{{randomSample: {{size: 1}}}}]
      actions: [{{kill: {{force: true}}}}]
  - probeHTTP:
      target: {{url: "{url}"}}
      endpoint: /probe
"""


def run_seal(
    tmp_path: Path,
    policy: str,
    *flags: str,
    environ: dict[str, str] | None = None,
    policy_name: str = "policy.yml",
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / policy_name
    path.write_text(textwrap.dedent(policy))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SEAL_"))}
    env.update(environ or {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "autonomous",
            "--sandbox",
            "--policy-file",
            str(path),
            "--state-dir",
            str(tmp_path / "state"),
            "--seed",
            "3",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
        env=env,
    )


def only(spans: list[ReceivedSpan], **attributes: object) -> ReceivedSpan:
    found = [s for s in spans if all(s.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, (attributes, spans)
    return found[0]


def test_a_run_exports_its_spans_and_the_probe_joins_the_trace(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    result = run_seal(
        tmp_path, POLICY.format(url=probed_service.url), "--otlp-endpoint", otlp_receiver.url
    )
    assert result.returncode == 0, result.stderr
    spans = otlp_receiver.spans
    assert {s.trace_id for s in spans} == {spans[0].trace_id}, "one trace for the loop"
    assert {s.service for s in spans} == {"seal"}

    (loop,) = otlp_receiver.named("seal.loop")
    assert loop.parent_id == ""
    assert loop.attributes["seal.loop.number"] == 1
    assert loop.attributes["seal.loop.passed"] == 1
    assert loop.attributes["seal.loop.failed"] == 0
    (scenario,) = otlp_receiver.named("seal.scenario")
    assert scenario.parent_id == loop.span_id
    assert scenario.attributes["seal.scenario.name"] == "kill a goldpinger and probe"
    assert scenario.attributes["seal.scenario.result"] == "passed"
    assert scenario.attributes["seal.scenario.targets"] == 1
    assert scenario.attributes["seal.scenario.undone"] == 0
    assert scenario.status == 0

    (cleanup,) = otlp_receiver.named("seal.cleanup")
    assert cleanup.parent_id == scenario.span_id
    assert cleanup.attributes["seal.cleanup.undone"] == 0
    assert cleanup.attributes["seal.cleanup.failed"] == 0
    checks = otlp_receiver.named("seal.steady_state")
    assert {c.attributes["seal.steady_state.phase"] for c in checks} == {"before", "after"}
    assert all(c.parent_id == scenario.span_id for c in checks)
    assert all(c.attributes["seal.steady_state.met"] is True for c in checks)

    steps = otlp_receiver.named("seal.step")
    kill = only(steps, **{"seal.step.phase": "steps", "seal.step.index": 1})
    assert kill.parent_id == scenario.span_id
    assert kill.attributes["seal.step.key"] == "podAction"
    assert kill.attributes["seal.step.result"] == "passed"
    assert kill.attributes["seal.step.targets"] == 1
    probe = only(steps, **{"seal.step.phase": "steps", "seal.step.index": 2})
    assert probe.parent_id == scenario.span_id
    assert probe.attributes["seal.step.key"] == "probeHTTP"
    assert probe.attributes["seal.step.result"] == "passed"
    before = only(steps, **{"seal.step.phase": "before"})
    assert before.parent_id == only(checks, **{"seal.steady_state.phase": "before"}).span_id

    # every request reached the service with the trace context of the span it was sent in
    assert [path for path, _ in probed_service.requests] == ["/steady", "/probe", "/steady"]
    sent = dict(probed_service.requests[1:2])
    version, trace_id, parent_id, flags = sent["/probe"]["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", probe.trace_id, probe.span_id)
    assert int(flags, 16) & 1, "sampled"
    after = only(steps, **{"seal.step.phase": "after"})
    steady = [headers["traceparent"].split("-")[2] for path, headers in probed_service.requests]
    assert (steady[0], steady[2]) == (before.span_id, after.span_id)
    assert loop.start_ns <= scenario.start_ns <= kill.start_ns <= probe.start_ns
    assert probe.end_ns <= scenario.end_ns <= loop.end_ns


def test_a_failing_probe_is_an_error_up_the_chain(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    policy = """\
    config:
      runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
    scenarios:
    - name: expects a teapot
      steps:
      - probeHTTP: {{target: {{url: "{url}"}}, code: 418}}
    """
    result = run_seal(
        tmp_path, policy.format(url=probed_service.url), "--otlp-endpoint", otlp_receiver.url
    )
    assert result.returncode == 1, result.stderr
    (step,) = otlp_receiver.named("seal.step")
    assert step.status == 2
    assert "answered 200, expected 418" in step.message
    assert step.attributes["seal.step.result"] == "failed"
    assert "expected 418" in step.attributes["seal.step.reason"]
    (scenario,) = otlp_receiver.named("seal.scenario")
    assert scenario.status == 2
    assert scenario.attributes["seal.scenario.result"] == "failed"
    (loop,) = otlp_receiver.named("seal.loop")
    assert loop.status == 2
    assert loop.message == "1 scenario run(s) failed: expects a teapot"


def test_the_standard_variables_configure_tracing(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
        "OTEL_SERVICE_NAME": "chaos-nightly",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=ops,authorization=Bearer%20t0ken",
    }
    result = run_seal(tmp_path, POLICY.format(url=probed_service.url), environ=environ)
    assert result.returncode == 0, result.stderr
    assert otlp_receiver.named("seal.loop")
    assert {s.service for s in otlp_receiver.spans} == {"chaos-nightly"}
    assert otlp_receiver.requests[0]["x-tenant"] == "ops"
    assert otlp_receiver.requests[0]["authorization"] == "Bearer t0ken"
    assert all("traceparent" in headers for _, headers in probed_service.requests)


def test_the_traces_variable_is_the_full_url(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{otlp_receiver.url}/v1/traces",
        # the signal's own variable wins over the general one
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9/nowhere",
    }
    result = run_seal(tmp_path, POLICY.format(url=probed_service.url), environ=environ)
    assert result.returncode == 0, result.stderr
    assert len(otlp_receiver.named("seal.scenario")) == 1


def test_without_an_endpoint_nothing_is_sent(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    result = run_seal(tmp_path, POLICY.format(url=probed_service.url))
    assert result.returncode == 0, result.stderr
    assert otlp_receiver.requests == []
    assert len(probed_service.requests) == 3
    assert not any("traceparent" in headers for _, headers in probed_service.requests)
    assert "traces exported" not in result.stderr


def test_a_bad_endpoint_is_a_usage_error(tmp_path: Path, probed_service: Recorder) -> None:
    result = run_seal(tmp_path, POLICY.format(url=probed_service.url), "--otlp-endpoint", "x:y")
    assert result.returncode == 2
    assert "--otlp-endpoint 'x:y': expected an http:// or https:// URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert probed_service.requests == [], "nothing ran"


def test_spans_are_exported_when_sigterm_stops_the_run(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    policy = f"""\
    config:
      runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
    scenarios:
    - name: probe then wait long
      steps:
      - probeHTTP: {{target: {{url: "{probed_service.url}"}}}}
      - wait: {{seconds: 120}}
    """
    (tmp_path / "policy.yml").write_text(textwrap.dedent(policy))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SEAL_"))}
    command = [sys.executable, "-m", "seal", "autonomous", "--sandbox"]
    command += ["--policy-file", str(tmp_path / "policy.yml")]
    command += ["--state-dir", str(tmp_path / "state"), "--otlp-endpoint", otlp_receiver.url]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env
    )
    try:
        wait_for(lambda: bool(probed_service.requests), timeout=60, what="the probe")
        time.sleep(0.5)  # into the wait step
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    (loop,) = otlp_receiver.named("seal.loop")
    (scenario,) = otlp_receiver.named("seal.scenario")
    assert scenario.parent_id == loop.span_id
    assert scenario.attributes["seal.scenario.result"] == "interrupted"
    assert scenario.status == 2
    wait = only(otlp_receiver.named("seal.step"), **{"seal.step.key": "wait"})
    assert wait.parent_id == scenario.span_id
    assert wait.status == 2


def test_background_load_requests_carry_the_scenario_s_trace(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    policy = f"""\
    config:
      runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
    scenarios:
    - name: under load
      background:
        users: 2
        url: "{probed_service.url}/load"
        headers: [{{name: X-Chaos, value: seal}}]
      steps:
      - wait: {{seconds: 1.5}}
    """
    result = run_seal(tmp_path, policy, "--otlp-endpoint", otlp_receiver.url)
    assert result.returncode == 0, result.stderr
    (scenario,) = otlp_receiver.named("seal.scenario")
    sent = [headers for path, headers in probed_service.requests if path == "/load"]
    assert len(sent) >= 2
    assert scenario.attributes["seal.scenario.run_id"].startswith("under load#")
    assert scenario.attributes["seal.load.target"] == f"{probed_service.url}/load"
    assert scenario.attributes["seal.load.users"] == 2
    assert 2 <= scenario.attributes["seal.load.requests"] <= len(sent)
    assert scenario.attributes["seal.load.errors"] == 0
    assert 0 < scenario.attributes["seal.load.p50_ms"] < 1000
    for headers in sent:
        assert headers["x-chaos"] == "seal"
        _, trace_id, parent_id, _ = headers["traceparent"].split("-")
        assert (trace_id, parent_id) == (scenario.trace_id, scenario.span_id)


def test_an_aborted_scenario_is_an_error_with_its_measurement(
    tmp_path: Path, otlp_receiver: Receiver, probed_service: Recorder
) -> None:
    policy = f"""\
    config:
      runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
    scenarios:
    - name: users hurt
      abortWhen:
      - probeHTTP: {{target: {{url: "{probed_service.url}/health"}}, code: 418}}
      abortCheckSeconds: 0.2
      steps:
      - wait: {{seconds: 60}}
    """
    started = time.monotonic()
    result = run_seal(tmp_path, policy, "--otlp-endpoint", otlp_receiver.url)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 45
    (scenario,) = otlp_receiver.named("seal.scenario")
    assert scenario.attributes["seal.scenario.result"] == "aborted"
    assert "abortWhen probe 1 (probeHTTP) failed" in scenario.attributes["seal.scenario.reason"]
    assert scenario.status == 2
    assert "answered 200, expected 418" in scenario.message
    (wait,) = otlp_receiver.named("seal.step")
    assert (wait.attributes["seal.step.key"], wait.status) == ("wait", 2)
    (loop,) = otlp_receiver.named("seal.loop")
    assert loop.message == "1 scenario run(s) failed: users hurt"
    # the abortWhen probe, polled beside the steps, is sent in the scenario's span
    _, headers = probed_service.requests[0]
    assert headers["traceparent"].split("-")[1:3] == [scenario.trace_id, scenario.span_id]

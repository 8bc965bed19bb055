"""The tracer against an OTLP/HTTP receiver on loopback: action spans at their time, the
trace headers, a bounded flush, and the cost of tracing when it is off."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from seal.adapters.http import Prober
from seal.model import ProbeRequest
from seal.outcomes import ActionRecord, ReplayReport, StepOutcome, UndoFailure
from seal.tracing import (
    ACTION,
    CLEANUP,
    NULL_TRACER,
    STEP,
    TracingSettings,
    current_headers,
    open_tracer,
    otel,
    record_cleanup,
    record_step,
    settings_from,
    step_span,
    with_trace_headers,
)
from tests.autonomous.helpers import REPO
from tests.tracing.conftest import Receiver, Recorder


def test_actions_are_child_spans_at_their_own_time(otlp_receiver: Receiver) -> None:
    kill_at, stop_at = time.time() - 0.5, time.time() - 0.2
    outcome = StepOutcome(
        "failed",
        "1 of 2 actions failed",
        targets=2,
        actions=(
            ActionRecord("kill", "default/web-1", "ok", verdict="verified", at=kill_at),
            ActionRecord("stop", "node-2", "failed", reason="cloud said no", at=stop_at),
        ),
    )
    with (
        open_tracer(settings_from(otlp_receiver.url, {})) as tracer,
        step_span(tracer, "scenario-a", 3, "podAction") as span,
    ):
        record_step(span, outcome)
    (step,) = otlp_receiver.named(STEP)
    assert step.parent_id == ""
    assert step.attributes == {
        "seal.scenario.name": "scenario-a",
        "seal.step.index": 3,
        "seal.step.key": "podAction",
        "seal.step.phase": "steps",
        "seal.step.result": "failed",
        "seal.step.reason": "1 of 2 actions failed",
        "seal.step.targets": 2,
        "seal.step.actions": 2,
    }
    assert (step.status, step.message) == (2, "1 of 2 actions failed")
    kill, stop = sorted(otlp_receiver.named(ACTION), key=lambda s: s.start_ns)
    assert kill.parent_id == stop.parent_id == step.span_id
    assert kill.trace_id == step.trace_id
    assert kill.start_ns == kill.end_ns == int(kill_at * 1e9)
    assert kill.attributes == {
        "seal.action.name": "kill",
        "seal.action.target": "default/web-1",
        "seal.action.outcome": "ok",
        "seal.action.verdict": "verified",
    }
    assert kill.status == 0
    assert stop.attributes["seal.action.reason"] == "cloud said no"
    assert stop.attributes["seal.action.verdict"] == "unverified"
    assert (stop.status, stop.message) == (2, "cloud said no")


def test_undos_that_failed_make_the_cleanup_an_error(otlp_receiver: Receiver) -> None:
    failed = UndoFailure("u1", "pod-delete", "delete the clone default/web-chaos", "forbidden")
    with open_tracer(settings_from(otlp_receiver.url, {})) as tracer:
        with tracer.span(CLEANUP, {}) as span:
            record_cleanup(span, ReplayReport(undone=2, failed=(failed,)))
        with tracer.span(CLEANUP, {}) as span:
            record_cleanup(span, ReplayReport(undone=1))
    bad, good = otlp_receiver.named(CLEANUP)
    assert bad.attributes == {"seal.cleanup.undone": 2, "seal.cleanup.failed": 1}
    assert (bad.status, bad.message) == (2, "delete the clone default/web-chaos: forbidden")
    assert good.attributes == {"seal.cleanup.undone": 1, "seal.cleanup.failed": 0}
    assert good.status == 0


def test_headers_name_the_current_span_and_only_while_tracing(otlp_receiver: Receiver) -> None:
    assert current_headers() == {}
    with open_tracer(settings_from(otlp_receiver.url, {})) as tracer:
        assert current_headers() == {}, "no span yet"
        with tracer.span("outer", {}), tracer.span("inner", {}):
            headers = current_headers()
            assert tracer.headers() == headers
    assert current_headers() == {}
    (inner,) = otlp_receiver.named("inner")
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", inner.trace_id, inner.span_id)
    assert int(flags, 16) & 1


def test_prepared_headers_gain_the_trace_context_unless_they_set_it(
    otlp_receiver: Receiver,
) -> None:
    own = (("X-Chaos", "seal"),)
    assert with_trace_headers(own) == own, "tracing off"
    with open_tracer(settings_from(otlp_receiver.url, {})) as tracer, tracer.span("s", {}):
        traced = with_trace_headers(own)
        kept = with_trace_headers((("TRACEPARENT", "mine"),))
        context = tracer.headers()
    assert traced == (("X-Chaos", "seal"), ("traceparent", context["traceparent"]))
    assert kept == (("TRACEPARENT", "mine"),)


def test_the_prober_sends_the_context_headers_and_the_request_s_own_win(
    probed_service: Recorder,
) -> None:
    prober = Prober(lambda: {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
    prober.send(ProbeRequest("get", f"{probed_service.url}/a"))
    prober.send(ProbeRequest("get", f"{probed_service.url}/b", (("TraceParent", "mine"),)))
    Prober().send(ProbeRequest("get", f"{probed_service.url}/c"))
    (_, a), (_, b), (_, c) = probed_service.requests
    assert a["traceparent"] == "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    assert b["traceparent"] == "mine"
    assert "traceparent" not in c


@pytest.fixture
def silent_collector() -> Iterator[str]:
    """A collector that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_the_flush_at_exit_is_bounded(
    silent_collector: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(otel, "FLUSH_SECONDS", 1.0)
    logger = logging.getLogger("seal.tracing.otel")
    logger.addHandler(caplog.handler)
    try:
        started = time.monotonic()
        with open_tracer(settings_from(silent_collector, {})) as tracer, tracer.span("x", {}):
            pass
        assert time.monotonic() - started < 3
    finally:
        logger.removeHandler(caplog.handler)
    assert f"spans not all exported to {silent_collector}/v1/traces within 1s" in caplog.text


def test_the_null_tracer_does_nothing() -> None:
    with open_tracer(TracingSettings()) as tracer:
        assert tracer is NULL_TRACER
        with tracer.span("x", {"a": 1}) as span:
            span.set_attributes({"b": 2})
            span.fail("no")
            span.add_action(ActionRecord("kill", "a/b", "ok"))
            assert tracer.headers() == current_headers() == {}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )


def test_tracing_off_imports_nothing_of_opentelemetry(tmp_path: object) -> None:
    result = run_python(
        f"""
        import sys
        from seal.cli import main
        policy = "{tmp_path}/p.yml"
        with open(policy, "w") as out:
            out.write("config: {{runStrategy: {{runs: 1}}}}\\n"
                      "scenarios: [{{name: sleeps, steps: [{{wait: {{seconds: 0}}}}]}}]\\n")
        try:
            main(["autonomous", "--sandbox", "--policy-file", policy,
                  "--state-dir", "{tmp_path}/state"])
        except SystemExit as exc:
            print("exit", exc.code)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert "exit 0" in result.stdout, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_asking_for_tracing_without_the_extra_is_a_usage_error() -> None:
    result = run_python(
        """
        import sys

        class NoOpenTelemetrySdk:
            def find_spec(self, name, path=None, target=None):
                if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter")):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoOpenTelemetrySdk())
        from seal.cli import main
        main(["autonomous", "--sandbox", "--policy-file", "policies/pod-start-slo.yml",
              "--otlp-endpoint", "http://127.0.0.1:4318"])
        """
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "seal: error: tracing to http://127.0.0.1:4318/v1/traces needs OpenTelemetry, which "
        "is not installed (opentelemetry.sdk is missing): pip install 'seal-chaos[tracing]', "
        "or leave out --otlp-endpoint and the OTEL_EXPORTER_OTLP_* variables"
    )

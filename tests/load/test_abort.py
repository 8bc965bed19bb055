"""Background load against a sandbox Service while the steps run, and the abort: a
threshold breached or an abortWhen probe failing stops the steps at once, the undos
run, and the scenario is `aborted` with the measurement."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent, indent

import pytest

from sandbox.sandbox import Sandbox
from seal.outcomes import ScenarioOutcome
from seal.runtime.runner import EXIT_FAILED, RunSummary
from seal.runtime.summary import rows, table
from tests.load.conftest import load_counts, run_one

#: a kubectl step whose undo is seen: a ConfigMap applied, deleted again at cleanup
MARKER = """\
  - kubectl:
      action: apply
      autoDelete: true
      payload: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: abort-marker, namespace: default}
        data: {made-by: seal}
"""


def marker_exists(box: Sandbox) -> bool:
    return box.call(lambda s: s.peek("configmaps", "default", "abort-marker")) is not None


def service_selector(box: Sandbox) -> dict[str, str]:
    service = box.call(lambda s: s.get("services", "myapp", "my-service"))
    return dict(service["spec"]["selector"])


def test_healthy_load_is_measured_and_does_not_abort(sandbox: Sandbox, tmp_path: Path) -> None:
    outcome, metrics = run_one(
        sandbox,
        tmp_path,
        """\
        scenarios:
        - name: healthy load
          background:
            users: 5
            rate: 50
            service: {namespace: myapp, name: my-service, port: 80, path: /hello}
            thresholds: {maxErrorRate: 0.01, maxLatencyMs: 500, percentile: 99}
          abortWhen:
          - probeDeployment: {name: my-service, namespace: myapp}
          abortCheckSeconds: 0.5
          steps:
          - wait: {seconds: 3}
        """,
    )
    assert outcome.result == "passed", outcome.reason
    load = outcome.load
    assert load is not None
    assert load.target.startswith("http://127.10.") and load.target.endswith(":80/hello")
    assert (load.users, load.rate, load.errors) == (5, 50.0, 0)
    assert 3.0 <= load.duration < 5.0
    assert 0.8 * 50 * load.duration <= load.requests <= 1.1 * 50 * load.duration
    assert load.p50 is not None and load.p99 is not None and 0 < load.p50 <= load.p99 < 500
    full = [s for s in load.seconds if s.t < 3]
    assert len(full) == 3 and all(40 <= s.requests <= 60 and s.errors == 0 for s in full)
    assert load_counts(metrics, "healthy load") == (load.requests, 0)
    assert metrics.named("scenario_finished") == [("healthy load", "passed")]


def test_an_error_rate_breach_aborts_the_steps_and_the_undos_run(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A clone of my-service that answers 500 takes its traffic: users see errors, the
    scenario stops within seconds (not after the 60 s wait), and its undos put the
    Service back and delete the clone."""
    selector = service_selector(sandbox)
    outcome, metrics = run_one(
        sandbox,
        tmp_path,
        dedent(
            """\
        scenarios:
        - name: bad version
          background:
            users: 4
            rate: 100
            service: {namespace: myapp, name: my-service}
            thresholds: {maxErrorRate: 0.2, windowSeconds: 2, minRequests: 50}
          steps:
        """
        )
        + MARKER
        + indent(
            dedent(
                """\
          - clone:
              source: {deployment: {name: my-service, namespace: myapp}}
              replicas: 2
              servicesToRetarget: [{service: {name: my-service, namespace: myapp}}]
              mutations: [{environment: {name: SEAL_SANDBOX_ERROR_RATE, value: "1"}}]
          - wait: {seconds: 60}
        """
            ),
            "  ",
        ),
    )
    assert outcome.result == "aborted" and outcome.failing
    assert outcome.reason.startswith("error rate ")
    assert " over the last 2 s > maxErrorRate 0.2 (" in outcome.reason
    assert outcome.duration < 30
    assert [s.result for s in outcome.steps] == ["passed", "passed", "interrupted"]
    assert outcome.steps[-1].reason == "step 3 (wait): aborted"
    assert outcome.cleanup.ok and outcome.cleanup.undone >= 2
    assert not marker_exists(sandbox)
    assert service_selector(sandbox) == selector
    load = outcome.load
    assert load is not None and load.errors > 0 and load.requests > load.errors
    assert load_counts(metrics, "bad version") == (load.requests - load.errors, load.errors)
    assert metrics.named("scenario_finished") == [("bad version", "aborted")]


def test_a_latency_breach_aborts_naming_the_percentile(sandbox: Sandbox, tmp_path: Path) -> None:
    outcome, _ = run_one(
        sandbox,
        tmp_path,
        """\
        scenarios:
        - name: slow version
          background:
            users: 10
            rate: 50
            service: {namespace: myapp, name: my-service}
            thresholds: {maxLatencyMs: 100, percentile: 90, windowSeconds: 2, minRequests: 20}
          steps:
          - clone:
              source: {deployment: {name: my-service, namespace: myapp}}
              replicas: 1
              servicesToRetarget: [{service: {name: my-service, namespace: myapp}}]
              mutations: [{environment: {name: SEAL_SANDBOX_LATENCY_MS, value: "300"}}]
          - wait: {seconds: 60}
        """,
    )
    assert outcome.result == "aborted", outcome.reason
    assert outcome.reason.startswith("p90 latency ")
    assert " ms over the last 2 s > maxLatencyMs 100 (" in outcome.reason
    assert outcome.duration < 30 and outcome.cleanup.ok


class TurningApp:
    """Answers 200 to its first `good` requests, then 503."""

    def __init__(self, good: int) -> None:
        self.good, self.seen = good, 0
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                app.seen += 1
                self.send_response(200 if app.seen <= app.good else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def turning_app() -> Iterator[TurningApp]:
    app = TurningApp(good=2)
    yield app
    app.server.shutdown()
    app.server.server_close()


def test_a_failing_abort_when_probe_aborts(
    sandbox: Sandbox, tmp_path: Path, turning_app: TurningApp
) -> None:
    outcome, metrics = run_one(
        sandbox,
        tmp_path,
        dedent(
            f"""\
        scenarios:
        - name: health turns
          abortWhen:
          - probeHTTP: {{target: {{url: '{turning_app.url}'}}, retries: 1}}
          abortCheckSeconds: 0.3
          steps:
        """
        )
        + MARKER
        + "  - wait: {seconds: 60}\n",
    )
    assert outcome.result == "aborted"
    assert outcome.reason == (
        f"abortWhen probe 1 (probeHTTP) failed: probe GET {turning_app.url}: request 1 of 1 "
        "failed 1 time(s); last: answered 503, expected 200"
    )
    assert outcome.duration < 20
    assert [s.result for s in outcome.steps] == ["passed", "interrupted"]
    assert outcome.load is None
    assert not marker_exists(sandbox)
    assert outcome.cleanup.undone == 1
    assert turning_app.seen == 3  # polled until it failed, then no more
    assert metrics.named("scenario_finished") == [("health turns", "aborted")]


def test_a_missing_service_fails_the_scenario_before_any_step(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    outcome, _ = run_one(
        sandbox,
        tmp_path,
        "scenarios:\n"
        "- name: nowhere\n"
        "  background: {service: {namespace: myapp, name: gone}}\n"
        "  steps:\n" + MARKER,
    )
    assert outcome.result == "failed"
    assert outcome.reason == "background load: service myapp/gone does not exist"
    assert not marker_exists(sandbox) and outcome.cleanup.undone == 0


def test_aborted_fails_the_run_and_shows_in_the_summary() -> None:
    summary = RunSummary(
        loops=2,
        outcomes=[
            ScenarioOutcome("a", "passed"),
            ScenarioOutcome("a", "aborted", "error rate 0.50 over the last 10 s > ..."),
            ScenarioOutcome("b", "aborted", "abortWhen probe 1 (probePods) failed: ..."),
        ],
    )
    assert summary.failed == 2 and summary.exit_code == EXIT_FAILED
    assert [(r.scenario, r.aborted, r.result) for r in rows(summary)] == [
        ("a", 1, "1 passed, 1 aborted"),
        ("b", 1, "aborted"),
    ]
    assert "b: abortWhen probe 1 (probePods) failed: ..." in table(summary)


class CountingApp:
    """Answers 200 to every request and keeps the paths asked for, in order."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                app.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def counting_app() -> Iterator[CountingApp]:
    app = CountingApp()
    yield app
    app.server.shutdown()
    app.server.server_close()


def test_abort_when_is_not_polled_once_the_steps_are_over(
    sandbox: Sandbox, tmp_path: Path, counting_app: CountingApp
) -> None:
    """The rollbacks (a probe marking their start, then 2 s) and the undos run with no
    abortWhen poll: the probe polled every 0.2 s during the steps, and no more after."""
    url = counting_app.url
    outcome, _ = run_one(
        sandbox,
        tmp_path,
        dedent(
            f"""\
        scenarios:
        - name: quiet after the steps
          abortWhen:
          - probeHTTP: {{target: {{url: '{url}/health'}}, retries: 1}}
          abortCheckSeconds: 0.2
          steps:
        """
        )
        + MARKER
        + "  - wait: {seconds: 1}\n"
        + "  rollbacks:\n"
        + f"  - probeHTTP: {{target: {{url: '{url}/rollback'}}, retries: 1}}\n"
        + "  - wait: {seconds: 2}\n",
    )
    assert outcome.result == "passed", outcome.reason
    assert not marker_exists(sandbox) and outcome.cleanup.undone == 1
    paths = counting_app.paths
    assert paths.count("/rollback") == 1
    during, after = paths[: paths.index("/rollback")], paths[paths.index("/rollback") + 1 :]
    assert set(during) == {"/health"} and len(during) >= 4  # polled while the steps ran
    assert after == []  # not one poll during the rollbacks, the undos or after

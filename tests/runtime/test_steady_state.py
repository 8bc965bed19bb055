"""The steady-state hypothesis: checked before the steps (not met: no chaos, `not-steady`)
and after the steps and their undos (not met: `deviated`). Scenarios run in process with
the real services against a sandbox; an HTTP endpoint on loopback plays the application."""

from __future__ import annotations

import http.server
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.sandbox import Sandbox
from seal.adapters.kubeconfig import resolve
from seal.errors import PolicyError
from seal.outcomes import ScenarioOutcome
from seal.policy.loader import load_policy_text
from seal.policy.model import Policy
from seal.runtime.runner import EXIT_FAILED, EXIT_PASSED, RunSummary
from seal.runtime.scenario import ScenarioExecutor
from seal.runtime.services import RunOptions, open_services
from seal.runtime.summary import rows, table
from seal.steps.registry import STEP_TYPES
from tests.steps.conftest import RecordingMetrics


class FlakyApp:
    """Answers 200 to its first `good` requests, then 503: an application the chaos hurt."""

    def __init__(self, good: int) -> None:
        self.good, self.seen = good, 0
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                app.seen += 1
                status = 200 if app.seen <= app.good else 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def flaky_app() -> Iterator[FlakyApp]:
    app = FlakyApp(good=1)
    yield app
    app.server.shutdown()
    app.server.server_close()


def load(head: str, *steps: str) -> Policy:
    """A policy: `head` ending in `steps:`, then each of `steps` (YAML lists) under it."""
    body = "".join(textwrap.indent(textwrap.dedent(step), "  ") for step in steps)
    return load_policy_text(textwrap.dedent(head) + body, STEP_TYPES, "steady.yml", {})


def run_one(
    box: Sandbox, tmp_path: Path, policy: Policy
) -> tuple[ScenarioOutcome, RecordingMetrics]:
    metrics = RecordingMetrics()
    options = RunOptions(
        kubeconfig=str(box.kubeconfig_path), state_dir=str(tmp_path), seed=7, environ={}
    )
    with open_services(options, resolve(str(box.kubeconfig_path)), metrics=metrics) as services:
        [scenario] = policy.scenarios
        return ScenarioExecutor(services).run(scenario, policy), metrics


def goldpinger_uids(box: Sandbox) -> set[str]:
    pods = box.call(lambda s: s.list("pods", "default", label_selector="app=goldpinger"))
    return {p["metadata"]["uid"] for p in pods}


KILL_ONE = """\
    - podAction:
        matches: [{labels: {selector: app=goldpinger, namespace: default}}]
        filters: [{randomSample: {size: 1}}]
        actions: [{kill: {force: true}}]
"""


def test_a_hypothesis_that_holds_before_and_after_passes(sandbox: Sandbox, tmp_path: Path) -> None:
    before = goldpinger_uids(sandbox)
    policy = load(
        """\
        scenarios:
        - name: kill and heal
          steadyState:
            title: goldpinger serves
            probes:
            - probeDeployment: {name: goldpinger, namespace: default}
            - probePods: {namespace: default, selector: app=goldpinger, count: 3}
          steps:
        """,
        KILL_ONE,
        """\
        - waitFor:
            probe: {probeDeployment: {name: goldpinger, namespace: default}}
            timeout: 30
            interval: 0.2
        """,
    )
    outcome, metrics = run_one(sandbox, tmp_path, policy)
    assert outcome.result == "passed", outcome.reason
    assert len(outcome.steady_state) == 4 and all(s.ok for s in outcome.steady_state)
    assert len(before - goldpinger_uids(sandbox)) == 1  # the chaos was done
    assert metrics.named("scenario_finished") == [("kill and heal", "passed")]
    [(scenario, _, waited)] = metrics.named("wait_for_seconds")
    assert scenario == "kill and heal" and 0 <= waited < 30


def test_a_hypothesis_not_met_before_means_no_chaos(sandbox: Sandbox, tmp_path: Path) -> None:
    before = goldpinger_uids(sandbox)
    policy = load(
        """\
        scenarios:
        - name: not steady
          steadyState:
            title: the cache is up
            probes:
            - probePods: {namespace: default, selector: app=cache}
            - probeDeployment: {name: goldpinger, namespace: default}
          steps:
        """,
        KILL_ONE,
    )
    outcome, metrics = run_one(sandbox, tmp_path, policy)
    assert outcome.result == "not-steady"
    assert outcome.reason == (
        "steady state 'the cache is up' not met before the steps: probe 1 (probePods): "
        "probePods pods app=cache in default: no pod matches; expected every one Ready, "
        "at least one; no chaos done"
    )
    assert outcome.steps == () and outcome.failing
    assert [s.result for s in outcome.steady_state] == ["failed", "passed"]
    assert goldpinger_uids(sandbox) == before
    assert metrics.named("pod_killed") == []
    assert metrics.named("scenario_finished") == [("not steady", "not-steady")]


def test_a_hypothesis_not_met_after_the_steps_is_a_deviation(
    sandbox: Sandbox, tmp_path: Path, flaky_app: FlakyApp
) -> None:
    policy = load(
        f"""\
        scenarios:
        - name: deviates
          steadyState:
            probes:
            - probeHTTP: {{target: {{url: '{flaky_app.url}'}}, retries: 1}}
          steps:
          - wait: {{seconds: 0}}
        """
    )
    outcome, metrics = run_one(sandbox, tmp_path, policy)
    assert outcome.result == "deviated" and outcome.failing
    assert outcome.reason.startswith("steady state not met after the steps: probe 1 (probeHTTP)")
    assert outcome.reason.endswith("last: answered 503, expected 200")
    assert flaky_app.seen == 2
    assert metrics.named("scenario_finished") == [("deviates", "deviated")]


def test_not_steady_and_deviated_fail_the_run_and_show_in_the_summary() -> None:
    summary = RunSummary(
        loops=1,
        outcomes=[
            ScenarioOutcome("a", "passed"),
            ScenarioOutcome("b", "not-steady", "steady state not met"),
            ScenarioOutcome("c", "deviated", "steady state not met after"),
        ],
    )
    assert summary.failed == 2 and summary.exit_code == EXIT_FAILED
    assert [r.result for r in rows(summary)] == ["passed", "not-steady", "deviated"]
    assert "c: steady state not met after" in table(summary)
    assert RunSummary(1, [ScenarioOutcome("a", "passed")]).exit_code == EXIT_PASSED


@pytest.mark.parametrize(
    ("hypothesis", "message"),
    [
        ("{probes: [{podAction: {}}]}", "unknown probe 'podAction'"),
        ("{probes: []}", "must have at least 1 item"),
        ("{title: x}", "missing required key 'probes'"),
        ("{probes: [{probePods: {namespace: x, count: {from: 2, to: 1}}}]}", "range is empty"),
    ],
)
def test_a_bad_hypothesis_is_a_located_policy_error(hypothesis: str, message: str) -> None:
    with pytest.raises(PolicyError) as failure:
        load(
            f"""\
            scenarios:
            - name: bad hypothesis
              steadyState: {hypothesis}
              steps: []
            """
        )
    [problem] = failure.value.problems
    assert problem.startswith("steady.yml:3:")
    assert message in problem


def test_prometheus_has_the_new_results_from_the_start_and_the_wait_histogram() -> None:
    from prometheus_client import generate_latest

    from seal.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    metrics.scenarios_known(["heal"])
    metrics.wait_for_seconds("heal", "healed", 4.2)
    text = generate_latest(metrics.registry).decode()
    for result in ("passed", "failed", "interrupted", "not-steady", "deviated"):
        assert f'seal_scenario_runs_total{{name="heal",result="{result}"}} 0.0' in text
    assert 'seal_wait_for_seconds_bucket{le="2.5",scenario="heal",step="healed"} 0.0' in text
    assert 'seal_wait_for_seconds_bucket{le="5.0",scenario="heal",step="healed"} 1.0' in text
    assert 'seal_wait_for_seconds_sum{scenario="heal",step="healed"} 4.2' in text


def test_every_problem_of_a_hypothesis_is_reported_at_its_line() -> None:
    with pytest.raises(PolicyError) as failure:
        load(
            """\
            scenarios:
            - name: many problems
              steadyState:
                probes:
                - probeHTTP:
                    target: {url: 'http://x'}
                    tolerance: {status: {from: 500, to: 200}, latency: 3}
                - podAction: {matches: [], actions: []}
                - probePrometheus: {url: 'http://p', query: up, value: {regex: '('}}
              steps: []
            """
        )
    problems = failure.value.problems
    assert [p.split(": ")[0] for p in problems] == [
        "steady.yml:7:29",
        "steady.yml:7:51",
        "steady.yml:8:7",
        "steady.yml:9:68",
    ]
    assert "the range is empty: from (500) is more than to (200)" in problems[0]
    assert "unknown key 'latency'; did you mean 'latencyMs'?" in problems[1]
    assert "unknown probe 'podAction'" in problems[2]
    assert "'(' is not a valid regular expression" in problems[3]

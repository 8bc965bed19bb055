"""Action verdicts in process: what the evidence says of each kill, eviction, stop, start
and command, against the sandbox (and its cloud driver)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from prometheus_client import generate_latest

from sandbox.timing import SandboxTiming
from seal.clock import SystemClock
from seal.errors import KubeError, StepFailed
from seal.metrics import PrometheusMetrics
from seal.model import ExecResult, Node, Pod
from seal.steps import node_action, pod_action
from seal.steps.ports import KubeApi
from tests.steps.conftest import SCENARIO, StepHarness

#: pods take a minute to stop once deleted gracefully: a killed pod stays, Terminating
SLOW_STOP = replace(SandboxTiming.fast(), pod_stop_seconds=60)

KILL = """\
- podAction:
    matches: [{labels: {selector: app=goldpinger, namespace: default}}]
    filters: [{randomSample: {size: %d}}]
    actions: [%s]
"""


def run_with(h: StepHarness, kube: Any, steps: str, config: str = "") -> Any:
    """Run a podAction with the step's Kubernetes API replaced by `kube`."""
    spec, policy = h.spec(pod_action.STEP, steps, config)
    return pod_action.STEP.run(spec, replace(h.context(policy), kube=kube))


@dataclass
class Wrapped:
    """The real client, with a method or two changed (as an admission webhook or a
    failing API server would change them)."""

    inner: KubeApi

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class SwallowsDeletes(Wrapped):
    """Answers every DELETE with success and deletes nothing."""

    def delete_pod(self, namespace: str, name: str, **_: Any) -> None:
        pass


class BlindAfterDeletes(Wrapped):
    """Cannot list pods any more once a pod was deleted."""

    deleted = False

    def delete_pod(self, namespace: str, name: str, **options: Any) -> None:
        self.inner.delete_pod(namespace, name, **options)
        self.deleted = True

    def list_pods(self, namespace: str | None, **options: Any) -> list[Pod]:
        if self.deleted:
            raise KubeError("GET /api/v1/namespaces/default/pods: 503 ServiceUnavailable")
        return self.inner.list_pods(namespace, **options)


def test_a_kill_is_verified_by_the_pod_being_gone(harness: StepHarness) -> None:
    before = harness.live("default", "app=goldpinger")
    outcome = harness.run(pod_action.STEP, KILL % (2, "{kill: {force: true}}"))
    assert outcome.result == "passed"
    records = outcome.actions
    assert len(records) == 2
    for record in records:
        assert record.target in before and record.target not in harness.live("default")
        assert (record.action, record.outcome, record.verdict) == ("kill", "ok", "verified")
        assert record.reason == "the pod is gone"
        assert record.at == harness.clock.now()
    assert harness.metrics.named("action_verified") == [("verified",), ("verified",)]


def test_a_graceful_kill_is_verified_by_the_pod_terminating(
    harness_factory: Any,
) -> None:
    h = harness_factory(timing=SLOW_STOP)
    outcome = h.run(pod_action.STEP, KILL % (1, "{kill: {gracePeriodSeconds: 30}}"))
    [record] = outcome.actions
    assert record.verdict == "verified"
    assert record.reason == "the pod is terminating (deletionTimestamp set)"
    # it is still there, being deleted
    name = record.target.split("/")[1]
    [pod] = [p for p in h.pods("default") if p["metadata"]["name"] == name]
    assert pod["metadata"]["deletionTimestamp"]


def test_an_eviction_is_verified_as_a_kill_is(harness_factory: Any) -> None:
    h = harness_factory(timing=SLOW_STOP)
    outcome = h.run(pod_action.STEP, KILL % (2, "{kill: {evict: true}}"))
    assert [(r.action, r.verdict) for r in outcome.actions] == [("evict", "verified")] * 2


def test_a_kill_the_api_accepted_but_that_did_not_take_fails_the_step(
    harness: StepHarness,
) -> None:
    with pytest.raises(StepFailed) as failure:
        run_with(harness, SwallowsDeletes(harness.kube), KILL % (1, "{kill: {force: true}}"))
    message = str(failure.value)
    assert message.startswith("kill did not take for 1 of 1 pod(s): default/goldpinger-")
    assert message.endswith(": the pod is still Running with the same uid")
    assert harness.metrics.named("action_verified") == [("not-verified",)]
    assert len(harness.live("default", "app=goldpinger")) == 3


def test_a_kill_whose_effect_cannot_be_read_is_unverified_not_a_success(
    harness: StepHarness,
) -> None:
    outcome = run_with(harness, BlindAfterDeletes(harness.kube), KILL % (2, "{kill: {}}"))
    assert outcome.result == "passed"  # the kills were accepted; the step does not fail
    assert [r.verdict for r in outcome.actions] == ["unverified"] * 2
    assert outcome.actions[0].reason == (
        "could not list the pods of default to check: "
        "GET /api/v1/namespaces/default/pods: 503 ServiceUnavailable"
    )
    assert harness.metrics.named("action_verified") == [("unverified",), ("unverified",)]


def test_verdicts_and_recovery_in_a_prometheus_registry(harness_factory: Any) -> None:
    h = harness_factory(clock=SystemClock())  # the sandbox heals in real time
    prometheus = PrometheusMetrics()
    text = generate_latest(prometheus.registry).decode()
    for result in ("verified", "not-verified", "unverified"):
        assert f'seal_action_verified_total{{result="{result}"}} 0.0' in text
    spec, policy = h.spec(pod_action.STEP, KILL % (3, "{kill: {recoveredWithin: 60}}"))
    outcome = pod_action.STEP.run(spec, replace(h.context(policy), metrics=prometheus))
    assert outcome.result == "passed", outcome.reason
    label = f'scenario="{SCENARIO}",step="podAction@line{h.line("kill")}"'
    spec, policy = h.spec(pod_action.STEP, KILL % (1, "{kill: {}}"), "safety: {dryRun: true}")
    pod_action.STEP.run(spec, replace(h.context(policy), metrics=prometheus))
    text = generate_latest(prometheus.registry).decode()
    assert 'seal_action_verified_total{result="verified"} 3.0' in text
    assert 'seal_action_verified_total{result="unverified"} 1.0' in text
    assert 'seal_action_verified_total{result="not-verified"} 0.0' in text
    assert f"seal_recovery_seconds_count{{{label}}} 1.0" in text
    assert f"seal_recovery_seconds_sum{{{label}}} {outcome.recovery_seconds}" in text


def test_machine_stops_and_starts_are_verified_by_the_clouds_state(harness: StepHarness) -> None:
    harness.sandbox_cloud()
    outcome = harness.run(
        node_action.STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: 'worker-(1|2)$'}}]
            actions: [{stop: {autoRestart: false}}, {start: null}]
        """,
    )
    assert outcome.result == "passed", outcome.reason
    got = sorted((r.action, r.target, r.outcome, r.verdict) for r in outcome.actions)
    assert got == [
        ("start", "worker-1", "ok", "verified"),
        ("start", "worker-2", "ok", "verified"),
        ("stop", "worker-1", "ok", "verified"),
        ("stop", "worker-2", "ok", "verified"),
    ]
    stop = next(r for r in outcome.actions if r.action == "stop")
    assert "down after" in stop.reason
    assert harness.metrics.named("action_verified") == [("verified",)] * 4


def test_a_stop_the_cloud_never_shows_is_not_verified(harness: StepHarness) -> None:
    cloud = harness.sandbox_cloud()

    class Stuck:
        name = cloud.name

        def __getattr__(self, attribute: str) -> Any:
            return getattr(cloud, attribute)

        def stop(self, machine: Any, *, force: bool = False) -> None:
            pass

    harness.cloud = Stuck()  # type: ignore[assignment]
    with pytest.raises(StepFailed, match="was not DOWN within 10 s"):
        harness.run(
            node_action.STEP,
            """\
            - nodeAction:
                matches: [{property: {name: name, value: worker-1$}}]
                actions: [{stop: {timeout: 10}}]
            """,
        )
    assert harness.metrics.named("action_verified") == [("not-verified",)]


class ExitsWith:
    """An executor (the adapter boundary) whose command exits with a code per node."""

    def __init__(self, codes: dict[str, int]) -> None:
        self.codes = codes

    def run(self, node: Node, command: str, *, timeout: float, undo: Any = None) -> ExecResult:
        return ExecResult(self.codes[node.name], stdout="done\n")

    def kill_container(self, *args: Any, **kwargs: Any) -> ExecResult:
        raise AssertionError("not called")


def test_a_commands_exit_status_is_its_verdict(harness: StepHarness) -> None:
    harness.executor = ExitsWith({"worker-1": 0, "worker-2": 3})
    with pytest.raises(StepFailed, match="worker-2: exit 3"):
        harness.run(
            node_action.STEP,
            """\
            - nodeAction:
                matches: [{property: {name: name, value: 'worker-(1|2)$'}}]
                actions: [{execute: {cmd: 'tc qdisc add dev eth0 root netem delay 100ms'}}]
            """,
        )
    assert sorted(harness.metrics.named("action_verified")) == [("not-verified",), ("verified",)]
    harness.executor = ExitsWith({"worker-1": 0})
    outcome = harness.run(
        node_action.STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: 'worker-1$'}}]
            actions: [{execute: {cmd: 'true'}}]
        """,
    )
    [record] = outcome.actions
    assert (record.action, record.target, record.outcome, record.reason, record.verdict) == (
        "execute",
        "worker-1",
        "ok",
        "exit 0",
        "verified",
    )


def test_a_dry_run_of_machine_actions_records_them_unverified(harness: StepHarness) -> None:
    harness.sandbox_cloud()
    outcome = harness.run(
        node_action.STEP,
        """\
        - nodeAction:
            matches: [{property: {name: name, value: worker-1$}}]
            actions: [{stop: {recoveredWithin: 30}}]
        """,
        "safety: {dryRun: true}",
    )
    assert outcome.result == "passed" and outcome.recovery_seconds is None
    [record] = outcome.actions
    assert (record.action, record.outcome, record.verdict) == ("stop", "dry-run", "unverified")
    assert harness.metrics.named("recovery_seconds") == []

"""recoveredWithin in process: kills and stops against the sandbox, the workloads and
Services they hit watched until they are whole again (or not, in time)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import pytest

from sandbox.timing import SandboxTiming
from seal.clock import SystemClock
from seal.errors import PolicyError, StepFailed
from seal.runtime.scenario import replay_undos
from seal.steps import node_action, pod_action
from seal.steps.pod_action.run import select_pods
from tests.autonomous.helpers import seal
from tests.steps.conftest import SCENARIO, HarnessFactory, StepHarness

#: pods take a minute to start: nothing killed is replaced within a test
SLOW_START = replace(SandboxTiming.fast(), pod_start_seconds=60)

KILL_GOLDPINGERS = """\
- podAction:
    matches: [{labels: {selector: app=goldpinger, namespace: default}}]
    filters: [{randomSample: {size: %d}}]
    actions:
    - kill: {force: true, recoveredWithin: %s}
"""


def real_time(harness_factory: HarnessFactory, **kwargs: object) -> StepHarness:
    """A harness whose step clock is the real one: the sandbox heals in real time."""
    return harness_factory(clock=SystemClock(), **kwargs)


def test_a_kill_passes_once_the_deployment_and_its_service_are_whole_again(
    harness_factory: HarnessFactory,
) -> None:
    h = real_time(harness_factory)
    before = set(h.uids("default", "app=goldpinger"))
    outcome = h.run(pod_action.STEP, KILL_GOLDPINGERS % (3, 20))
    assert outcome.result == "passed", outcome.reason
    assert outcome.recovery_seconds is not None and 0 < outcome.recovery_seconds < 20
    [(scenario, label, seconds)] = h.metrics.named("recovery_seconds")
    assert (scenario, label, seconds) == (
        SCENARIO,
        f"podAction@line{h.line('kill:')}",
        outcome.recovery_seconds,
    )
    # all three replaced, and Ready: that is what was waited for
    ready = [
        p
        for p in h.pods("default", "app=goldpinger")
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
    ]
    assert len(ready) == 3 and not {p["metadata"]["uid"] for p in ready} & before
    endpoints = h.kube.list_endpoints("default")
    [goldpinger] = [e for e in endpoints if e["metadata"]["name"] == "goldpinger"]
    assert sum(len(s.get("addresses") or []) for s in goldpinger["subsets"]) == 3
    assert [a.verdict for a in outcome.actions] == ["verified"] * 3


def test_a_recovery_slower_than_allowed_fails_the_step_naming_what_is_behind(
    harness_factory: HarnessFactory,
) -> None:
    h = harness_factory(timing=SLOW_START)
    outcome = h.run(pod_action.STEP, KILL_GOLDPINGERS % (1, 5))
    assert outcome.result == "failed"
    line = h.line("kill:")
    assert outcome.reason == (
        f"kill (line {line}): not recovered within 5 s (after 5.0 s): "
        "deployment default/goldpinger: 2 of 3 Ready; service default/goldpinger: 2 of 3 endpoints"
    )
    assert outcome.recovery_seconds is None
    assert h.metrics.named("recovery_seconds") == []
    # the kill itself took: its verdict is kept although the step failed
    [record] = outcome.actions
    assert (record.action, record.outcome, record.verdict) == ("kill", "ok", "verified")
    # polled on the step's clock, never past the deadline
    assert sum(h.clock.slept) == pytest.approx(5.0)


def test_without_a_step_report_a_slow_recovery_raises(harness_factory: HarnessFactory) -> None:
    """As in `seal interactive`, which runs the actions one by one."""
    h = harness_factory(timing=SLOW_START)
    spec, policy = h.spec(pod_action.STEP, KILL_GOLDPINGERS % (1, 3))
    [kill] = spec.actions  # type: ignore[attr-defined]
    pods = select_pods(spec, h.context(policy))  # type: ignore[arg-type]
    with pytest.raises(StepFailed, match=r"not recovered within 3 s \(after 3.0 s\): deploy"):
        pod_action.kill_pods(kill, pods, h.context(policy), None)


def test_the_wait_is_on_the_steps_clock_so_a_shutdown_cuts_it_short(
    harness_factory: HarnessFactory,
) -> None:
    from seal.errors import ShutdownRequested

    h = harness_factory(timing=SLOW_START)
    h.clock.shutdown_after = 3
    with pytest.raises(ShutdownRequested):
        h.run(pod_action.STEP, KILL_GOLDPINGERS % (1, 600))
    assert len(h.clock.slept) == 3


def test_a_pod_with_no_owner_is_said_to_be_unmeasurable_not_a_failure(
    harness: StepHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.kube.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        body={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "loner", "labels": {"app": "loner"}},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        },
    )
    caplog.set_level(logging.WARNING, logger="seal.steps.recovery")
    outcome = harness.run(
        pod_action.STEP,
        """\
        - podAction:
            matches: [{labels: {selector: app=loner, namespace: default}}]
            actions: [{kill: {recoveredWithin: 30}}]
        """,
    )
    note = (
        "recovery not measured for 1 pod(s) with no owner (no ReplicaSet, StatefulSet or "
        "DaemonSet brings them back): default/loner"
    )
    assert outcome.result == "passed"
    assert outcome.reason == f"1 pod(s) selected; {note}"
    assert outcome.recovery_seconds is None
    assert note in caplog.text
    assert harness.clock.slept == []  # nothing to wait for
    [record] = outcome.actions
    assert record.verdict == "verified"
    assert record.reason == "the pod is gone; recovery not measured: the pod has no owner"


def test_a_dry_run_kills_nothing_measures_nothing_and_its_actions_are_unverified(
    harness: StepHarness,
) -> None:
    before = harness.live("default", "app=goldpinger")
    outcome = harness.run(pod_action.STEP, KILL_GOLDPINGERS % (2, 30), "safety: {dryRun: true}")
    assert outcome.result == "passed" and outcome.recovery_seconds is None
    assert harness.live("default", "app=goldpinger") == before
    assert [(a.action, a.outcome, a.verdict) for a in outcome.actions] == [
        ("kill", "dry-run", "unverified")
    ] * 2
    assert {a.target for a in outcome.actions} <= before
    assert harness.metrics.named("action_verified") == [("unverified",), ("unverified",)]
    assert harness.metrics.named("recovery_seconds") == []


def test_a_node_stop_waits_for_its_pods_to_be_replaced_elsewhere(
    harness_factory: HarnessFactory,
) -> None:
    h = real_time(harness_factory)
    h.sandbox_cloud()
    hosts = {p["spec"]["nodeName"] for p in h.pods("default", "app=goldpinger")}
    node = sorted(hosts)[0]
    outcome = h.run(
        node_action.STEP,
        f"""\
        - nodeAction:
            matches: [{{property: {{name: name, value: '{node}$'}}}}]
            actions: [{{stop: {{recoveredWithin: 30}}}}]
        """,
    )
    assert outcome.result == "passed", outcome.reason
    assert outcome.recovery_seconds is not None and outcome.recovery_seconds < 30
    [(_, label, _)] = h.metrics.named("recovery_seconds")
    assert label == f"nodeAction@line{h.line('stop:')}"
    [record] = outcome.actions
    assert (record.action, record.target, record.verdict) == ("stop", node, "verified")
    assert record.reason.startswith("the cloud reports machine ")
    # the goldpingers that ran there run elsewhere now, all three Ready
    live = [
        p for p in h.pods("default", "app=goldpinger") if not p["metadata"].get("deletionTimestamp")
    ]
    assert len(live) >= 3
    assert node not in {p["spec"].get("nodeName") for p in live if _ready(p)}
    report = replay_undos(h.journal, h.context(), h.metrics, h.run_id)
    assert report.undone == 1


def _ready(pod: dict[str, object]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []  # type: ignore[union-attr]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("{kill: {recoveredWithin: 0}}", "must be > 0"),
        ("{kill: {recoveredWithin: -3}}", "must be > 0"),
        ("{kill: {recoveredWithin: soon}}", "must be a number"),
        ("{kill: {recoveredWithin: 100000}}", "must be <= 86400"),
        ("{checkPodCount: {count: 1, recoveredWithin: 3}}", "recoveredWithin"),
        ("{stopHost: {recoveredWithin: .nan}}", "recoveredWithin"),
    ],
)
def test_bad_recovered_within_is_a_located_policy_error(
    harness: StepHarness, action: str, message: str
) -> None:
    with pytest.raises(PolicyError) as failure:
        harness.policy(
            f"""\
            - podAction:
                matches: [{{namespace: default}}]
                actions: [{action}]
            """
        )
    text = str(failure.value)
    assert message in text
    assert f"steps.yml:{harness.line('actions:')}:" in text


def test_stop_takes_recovered_within_and_the_schema_shows_it(harness: StepHarness) -> None:
    policy = harness.policy(
        """\
        - nodeAction:
            matches: [{property: {name: name, value: worker-1$}}]
            actions: [{stop: {recoveredWithin: 90}}, {start: null}]
        """
    )
    [spec] = policy.scenarios[0].steps
    assert isinstance(spec, node_action.NodeActionSpec)
    stop = spec.actions[0]
    assert isinstance(stop, node_action.StopAction) and stop.recovered_within == 90
    with pytest.raises(PolicyError, match="recoveredWithin"):
        harness.policy(
            """\
            - nodeAction:
                matches: [{property: {name: name, value: worker-1$}}]
                actions: [{start: {recoveredWithin: 9}}]
            """
        )


def test_seal_schema_shows_recovered_within_on_kill_stop_host_and_stop() -> None:
    result = seal("schema")
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = {}

    def walk(node: Any, parent: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "recoveredWithin":
                    found[parent] = value
                walk(value, key if key not in ("properties", "anyOf", "oneOf") else parent)
        elif isinstance(node, list):
            for item in node:
                walk(item, parent)

    walk(json.loads(result.stdout), "")
    assert set(found) == {"kill", "stopHost", "stop"}
    for value in found.values():
        assert value["exclusiveMinimum"] == 0 and value["maximum"] == 86400
        assert "longer fails the step" in value["description"]


def test_an_eviction_measures_recovery_as_a_kill_does(harness_factory: HarnessFactory) -> None:
    h = real_time(harness_factory)
    outcome = h.run(
        pod_action.STEP,
        """\
        - podAction:
            matches: [{deployment: {name: my-service, namespace: myapp}}]
            filters: [{randomSample: {size: 2}}]
            actions: [{kill: {evict: true, recoveredWithin: 20}}]
        """,
    )
    assert outcome.result == "passed", outcome.reason
    assert outcome.recovery_seconds is not None
    assert [(a.action, a.verdict) for a in outcome.actions] == [("evict", "verified")] * 2
    [(_, label, _)] = h.metrics.named("recovery_seconds")
    assert label == f"podAction@line{h.line('evict')}"


def test_stop_host_measures_the_recovery_of_every_pod_on_the_node(
    harness_factory: HarnessFactory,
) -> None:
    h = real_time(harness_factory)
    h.sandbox_cloud()
    outcome = h.run(
        pod_action.STEP,
        """\
        - podAction:
            matches: [{deployment: {name: goldpinger, namespace: default}}]
            filters: [{randomSample: {size: 1}}]
            actions: [{stopHost: {recoveredWithin: 30}}]
        """,
    )
    assert outcome.result == "passed", outcome.reason
    assert outcome.recovery_seconds is not None and outcome.recovery_seconds < 30
    [record] = outcome.actions
    assert (record.action, record.verdict) == ("stop", "verified")
    stopped = record.target
    # every Deployment that had a pod there is whole again, none of it on the stopped node
    for namespace, selector, replicas in (
        ("default", "app=goldpinger", 3),
        ("myapp", "app=my-service", 3),
        ("shop-a", "app=web", 2),
        ("shop-b", "app=web", 2),
    ):
        ready = [p for p in h.pods(namespace, selector) if _ready(p)]
        ready = [p for p in ready if not p["metadata"].get("deletionTimestamp")]
        on_others = [p for p in ready if p["spec"].get("nodeName") != stopped]
        assert len(on_others) >= replicas, (namespace, stopped)
    replay_undos(h.journal, h.context(), h.metrics, h.run_id)

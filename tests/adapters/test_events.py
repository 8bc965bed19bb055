"""Events off the kill path: aggregated as a step kills many pods, queued without waiting,
dropped and counted when the queue is full or the flush runs out of time."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.cluster import large
from seal.adapters.events import EventRecorder
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.log import log_context
from seal.metrics import PrometheusMetrics
from seal.model import Node, Pod
from seal.runtime.autonomous import read_policy, run_policy
from seal.runtime.services import RunOptions, open_services
from tests.adapters.loopback_api import slow_api
from tests.conftest import SandboxFactory

KILL_ALL = """\
config:
  runStrategy: {runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}
scenarios:
- name: kill them all
  steps:
  - podAction:
      matches: [{namespace: bulk-0}]
      actions: [{kill: {force: true}}]
"""


def _seal_events(box: Any, namespace: str) -> list[dict[str, Any]]:
    return box.call(  # type: ignore[no-any-return]
        lambda store: [
            e
            for e in store.list("events", namespace)
            if (e.get("source") or {}).get("component") == "seal"
        ]
    )


def _dropped(metrics: PrometheusMetrics) -> float:
    return metrics.registry.get_sample_value("seal_events_dropped_total") or 0.0


def test_a_kill_of_50_pods_sends_10_events_and_one_summary(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory(large(nodes=5, pods=50))
    policy = tmp_path / "policy.yml"
    policy.write_text(KILL_ALL)
    options = RunOptions(state_dir=str(tmp_path / "state"))
    with open_services(options, resolve(str(box.kubeconfig_path))) as services:
        summary = run_policy(services, str(policy), read_policy(str(policy)))
        counts = services.kube.request_counts
    assert summary.passed == 1
    events = _seal_events(box, "bulk-0")
    singles = [e for e in events if e["involvedObject"]["kind"] == "Pod"]
    summaries = [e for e in events if e["involvedObject"]["kind"] != "Pod"]
    assert len(singles) == 10
    assert all("killed (grace period 0s)" in e["message"] for e in singles)
    assert len(summaries) == 1
    owner = summaries[0]["involvedObject"]
    assert owner["kind"] == "ReplicaSet" and owner["apiVersion"] == "apps/v1" and owner["uid"]
    assert summaries[0]["count"] == 40
    assert f"killed 40 more pod(s) of replicaset bulk-0/{owner['name']}" in summaries[0]["message"]
    # the kills: one DELETE each; the Events: 11 POSTs and perhaps a few summary updates
    assert counts["DELETE"] == 50
    assert counts["POST"] == 11
    assert counts.get("PATCH", 0) <= 5


def test_each_step_folds_on_its_own(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(large(nodes=5, pods=30))
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    pods = kube.list_pods("bulk-0")
    recorder = EventRecorder(kube)
    scope = recorder.scope("two steps")
    for step, batch in (("0:podAction", pods[:15]), ("1:podAction", pods[15:])):
        with log_context(step=step):
            for pod in batch:
                scope.record(pod, reason="SealChaos", message="killed", folded_as="killed")
    scope.flush()
    recorder.close()
    events = _seal_events(box, "bulk-0")
    assert len([e for e in events if e["involvedObject"]["kind"] == "Pod"]) == 20
    assert sorted(e["count"] for e in events if e["involvedObject"]["kind"] != "Pod") == [5, 5]


def test_an_identical_event_raises_the_count_of_the_first(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    node = kube.list_nodes()[0]
    recorder = EventRecorder(kube)
    scope = recorder.scope("repeats")
    for _ in range(3):
        scope.record(node, reason="SealChaos", message="stopping its machine")
    scope.record(node, reason="SealChaos", message="started its machine")
    recorder.close()
    events = sorted(
        (e["message"], e["count"], e["involvedObject"]["kind"])
        for e in _seal_events(box, "default")
    )
    assert events == [("started its machine", 1, "Node"), ("stopping its machine", 3, "Node")]


def test_a_full_queue_drops_counts_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    metrics = PrometheusMetrics()
    with slow_api(delay=0.3) as (connection, seen):
        recorder = EventRecorder(KubeClient(connection), metrics, queue_size=3, flush_seconds=0.1)
        scope = recorder.scope("crowded")
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="seal.adapters.events"):
            for number in range(10):
                scope.record(Node(f"node-{number}"), reason="SealChaos", message="stopped")
            took = time.monotonic() - started
            assert took < 0.2  # recording never waited for the slow server
            # one is being sent, three wait in the queue: the other six (or seven) dropped
            assert recorder.dropped in (6, 7)
            assert _dropped(metrics) == recorder.dropped
            warnings = [r for r in caplog.records if "Events dropped" in r.getMessage()]
            assert len(warnings) == 1 and "'crowded'" in warnings[0].getMessage()
            recorder.close()
    assert len(seen.arrivals) <= 4


def test_the_flush_is_bounded_and_counts_what_it_leaves(caplog: pytest.LogCaptureFixture) -> None:
    metrics = PrometheusMetrics()
    with slow_api(delay=1.0) as (connection, seen):
        recorder = EventRecorder(KubeClient(connection), metrics, flush_seconds=0.5)
        scope = recorder.scope("slow")
        for number in range(6):
            scope.record(
                Pod("default", f"web-{number}", uid=f"u{number}"),
                reason="SealChaos",
                message="killed",
            )
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="seal.adapters.events"):
            scope.flush()
        took = time.monotonic() - started
        assert 0.4 < took < 1.0
        # the first is being sent when the time is up; the five behind it are dropped
        assert recorder.dropped == 5 and _dropped(metrics) == 5
        assert "5 Event(s) not sent within 0.5 s were dropped" in caplog.text
        started = time.monotonic()
        recorder.close()
        assert time.monotonic() - started < 2.0
        assert len(seen.arrivals) == 1


def test_a_flush_writes_the_summary_at_once(sandbox_factory: SandboxFactory) -> None:
    """The thread is woken by the flush: the scenario's end does not wait for a tick."""
    box = sandbox_factory(large(nodes=5, pods=12))
    kube = KubeClient(resolve(str(box.kubeconfig_path)))
    pods = kube.list_pods("bulk-0")
    recorder = EventRecorder(kube, per_owner=2)
    scope = recorder.scope("quick end")
    with log_context(step="0:podAction"):
        for pod in pods:
            scope.record(pod, reason="SealChaos", message="killed", folded_as="killed")
    for _ in range(200):  # the two Events of their own sent: the thread waits, idle
        if recorder.sent == 2:
            break
        time.sleep(0.01)
    started = time.monotonic()
    scope.flush()
    took = time.monotonic() - started
    summaries = [e for e in _seal_events(box, "bulk-0") if e["involvedObject"]["kind"] != "Pod"]
    assert [e["count"] for e in summaries] == [len(pods) - 2]
    assert took < 0.5  # summaries are otherwise written once a second
    assert recorder.dropped == 0
    recorder.close()

"""seal's Kubernetes client against the sandbox: pagination, errors, retries under faults."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.api import Faults
from sandbox.cluster import large
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.errors import EvictionRefused, KubeError, NotFoundError
from seal.model import NodeState
from tests.conftest import SandboxFactory
from tests.fakes import FakeClock


def test_lists_are_paginated_and_typed(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(large(nodes=20, pods=1200))
    kube = KubeClient(resolve(str(box.kubeconfig_path)), clock=FakeClock())
    pods = kube.list_pods("bulk-0")
    assert len(pods) == 1200 and len({p.name for p in pods}) == 1200
    assert kube.request_counts["LIST"] == 3  # pages of 500
    assert all(p.state == "Running" and p.node_name for p in pods)
    nodes = kube.list_nodes()
    assert len(nodes) == 20 and all(n.state is NodeState.UP for n in nodes)
    assert {n.zone for n in nodes} == {"WEST-1", "WEST-2", "EAST-1"}
    assert all(n.provider_id.startswith("sandbox://") and n.ip.startswith("127.30.") for n in nodes)


def test_errors_are_typed(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory()
    kube = KubeClient(resolve(str(box.kubeconfig_path)), clock=FakeClock())
    with pytest.raises(NotFoundError, match="404"):
        kube.get_pod("default", "nope")
    with pytest.raises(NotFoundError):
        kube.deployment_selector("default", "nope")
    assert kube.deployment_selector("default", "goldpinger") == "app=goldpinger"
    pod = kube.list_pods("default")[0]
    box.call(
        lambda store: store.create(
            "poddisruptionbudgets",
            {
                "metadata": {"name": "all", "namespace": "default"},
                "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "goldpinger"}}},
            },
        )
    )
    with pytest.raises(EvictionRefused, match="disruption budget"):
        kube.evict_pod("default", pod.name)
    with pytest.raises(KubeError, match="Precondition failed"):
        kube.delete_pod("default", pod.name, uid="not-the-uid")


def test_retries_get_through_an_unreliable_api(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(faults=Faults(error_rate=0.3, seed=11))
    kube = KubeClient(resolve(str(box.kubeconfig_path)), clock=FakeClock())
    for _ in range(10):
        assert len(kube.list_pods(None)) == 6
    assert kube.request_counts["LIST"] > 10  # some attempts failed and were retried


def test_concurrent_deletes_through_a_shared_client(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(large(nodes=10, pods=300))
    kube = KubeClient(resolve(str(box.kubeconfig_path)), clock=FakeClock())
    pods = kube.list_pods("bulk-0")
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda p: kube.delete_pod(p.namespace, p.name, grace_period_seconds=0, uid=p.uid),
                pods,
            )
        )
    assert kube.request_counts["DELETE"] == 300
    remaining = {p.name for p in kube.list_pods("bulk-0")}
    assert not remaining & {p.name for p in pods}


def test_events_land_exactly_once_when_answers_are_lost(
    sandbox_factory: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Some requests fail; a quarter of those after the change was made, the answer lost.
    box = sandbox_factory(faults=Faults(error_rate=0.4, seed=5))
    kube = KubeClient(resolve(str(box.kubeconfig_path)), clock=FakeClock())
    pod = kube.list_pods("default")[0]
    with caplog.at_level(logging.DEBUG, logger="seal.adapters"):
        for number in range(12):
            kube.create_event(pod, reason="Counting", message=f"event {number}")
    recorded = box.call(
        lambda store: sorted(
            e["message"] for e in store.list("events", "default") if e["reason"] == "Counting"
        )
    )
    assert recorded == sorted(f"event {n}" for n in range(12))
    assert "already recorded by an earlier attempt" in caplog.text


def test_deletes_whose_answer_is_lost_still_succeed(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(large(nodes=5, pods=60), faults=Faults(error_rate=0.25, seed=8))
    kube = KubeClient(resolve(str(box.kubeconfig_path)), clock=FakeClock())
    pods = kube.list_pods("bulk-0")
    already_gone = 0
    for pod in pods:
        try:
            kube.delete_pod(pod.namespace, pod.name, grace_period_seconds=0, uid=pod.uid)
        except NotFoundError:
            already_gone += 1  # an earlier attempt did it; its answer was lost
    assert already_gone > 0
    assert not {p.name for p in kube.list_pods("bulk-0")} & {p.name for p in pods}

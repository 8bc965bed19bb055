"""The sandbox's controllers, each driven by the store's changes."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

from sandbox.cluster import ClusterDescription, DeploymentSpec, NodeGroup
from sandbox.sandbox import Sandbox
from sandbox.store import Obj, Store, rfc3339
from sandbox.timing import SandboxTiming
from tests.conftest import SandboxFactory, wait_for


def _live(store: Store, namespace: str, selector: str) -> list[Obj]:
    return [
        p
        for p in store.list("pods", namespace, label_selector=selector)
        if not p["metadata"].get("deletionTimestamp")
    ]


def test_scheduler_spreads_pods_over_the_least_loaded_nodes(
    sandbox_factory: SandboxFactory,
) -> None:
    cluster = ClusterDescription(
        namespaces=("default",),
        nodes=(NodeGroup("node", 3),),
        deployments=(DeploymentSpec("web", "default", 1, {"app": "web"}),),
    )
    box = sandbox_factory(cluster)
    box.call(
        lambda s: s.mutate(
            "deployments", "default", "web", lambda d: d["spec"].__setitem__("replicas", 9)
        )
    )

    def placed(store: Store) -> Counter[str]:
        pods = _live(store, "default", "app=web")
        return Counter(p["spec"].get("nodeName") for p in pods) if len(pods) == 9 else Counter()

    spread = wait_for(lambda: (c := box.call(placed)) and None not in c and c, what="9 pods placed")
    assert sorted(spread.values()) == [3, 3, 3]


def test_a_pod_released_by_its_replicaset_no_longer_counts(sandbox: Sandbox) -> None:
    def release(store: Store) -> str:
        pod = _live(store, "default", "app=goldpinger")[0]
        name = pod["metadata"]["name"]
        store.mutate(
            "pods", "default", name, lambda p: p["metadata"].__setitem__("ownerReferences", [])
        )
        return str(name)

    released = sandbox.call(release)

    def replaced(store: Store) -> bool:
        pods = _live(store, "default", "app=goldpinger")
        owned = [p for p in pods if p["metadata"].get("ownerReferences")]
        ready = [
            p
            for p in owned
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"]
            )
        ]
        return len(owned) == 3 and len(ready) == 3 and len(pods) == 4

    wait_for(lambda: sandbox.call(replaced), what="a replacement for the released pod")
    rs = sandbox.call(lambda s: s.list("replicasets", "default")[0])
    wait_for(
        lambda: (
            sandbox.call(lambda s: s.list("replicasets", "default")[0]["status"])["readyReplicas"]
            == 3
        ),
        what="the ReplicaSet's status",
    )
    assert rs["spec"]["replicas"] == 3
    assert sandbox.call(lambda s: s.peek("pods", "default", released)) is not None


def test_scaling_down_deletes_pods_and_the_status_follows(sandbox: Sandbox) -> None:
    sandbox.call(
        lambda s: s.mutate(
            "deployments", "default", "goldpinger", lambda d: d["spec"].__setitem__("replicas", 1)
        )
    )

    def settled(store: Store) -> bool:
        rs = store.list("replicasets", "default")[0]
        deployment = store.get("deployments", "default", "goldpinger")
        return (
            len(_live(store, "default", "app=goldpinger")) == 1
            and rs["status"]["replicas"] == 1
            and deployment["status"]["readyReplicas"] == 1
        )

    wait_for(lambda: sandbox.call(settled), what="one pod left, counted")


def test_the_scheduler_sees_nodes_change_between_placements(
    sandbox_factory: SandboxFactory,
) -> None:
    cluster = ClusterDescription(
        namespaces=("default",),
        nodes=(NodeGroup("node", 2),),
        deployments=(DeploymentSpec("web", "default", 2, {"app": "web"}),),
    )
    box = sandbox_factory(cluster)

    def scale(replicas: int) -> None:
        box.call(
            lambda s: s.mutate(
                "deployments",
                "default",
                "web",
                lambda d: d["spec"].__setitem__("replicas", replicas),
            )
        )

    def cordon(name: str, unschedulable: bool) -> None:
        box.call(
            lambda s: s.mutate(
                "nodes", "", name, lambda n: n["spec"].__setitem__("unschedulable", unschedulable)
            )
        )

    def placed(count: int) -> Counter[str]:
        pods = box.call(lambda s: _live(s, "default", "app=web"))
        nodes = Counter(p["spec"].get("nodeName") for p in pods)
        return nodes if len(pods) == count and None not in nodes else Counter()

    wait_for(lambda: placed(2), what="the first pods placed")
    scale(3)  # the scheduler learns which nodes fit
    wait_for(lambda: placed(3), what="a third pod placed")
    cordon("node-0", True)
    scale(7)
    after_cordon = wait_for(lambda: placed(7), what="pods placed while node-0 is cordoned")
    assert after_cordon["node-1"] >= 5
    cordon("node-0", False)
    scale(11)
    spread = wait_for(lambda: placed(11), what="pods placed after node-0 is back")
    assert spread["node-0"] - after_cordon["node-0"] == 4  # the least loaded takes them all


def _endpoint_pods(store: Store, name: str) -> list[str]:
    endpoints = store.peek("endpoints", "default", name)
    if endpoints is None:
        return []
    return [a["targetRef"]["name"] for s in endpoints.get("subsets") or [] for a in s["addresses"]]


def test_endpoints_follow_labels_readiness_and_selectors(sandbox: Sandbox) -> None:
    pods = sandbox.call(
        lambda s: sorted(p["metadata"]["name"] for p in _live(s, "default", "app=goldpinger"))
    )
    wait_for(
        lambda: sandbox.call(lambda s: _endpoint_pods(s, "goldpinger")) == pods,
        what="the three pods in the endpoints, in name order",
    )
    first = pods[0]
    sandbox.call(
        lambda s: s.mutate(
            "pods", "default", first, lambda p: p["metadata"]["labels"].__setitem__("app", "other")
        )
    )
    wait_for(
        lambda: first not in sandbox.call(lambda s: _endpoint_pods(s, "goldpinger")),
        what="a relabelled pod to leave the endpoints",
    )

    def unready(pod: Obj) -> None:
        for condition in pod["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition["status"] = "False"

    sandbox.call(lambda s: s.mutate("pods", "default", pods[1], unready))
    wait_for(
        lambda: pods[1] not in sandbox.call(lambda s: _endpoint_pods(s, "goldpinger")),
        what="an unready pod to leave the endpoints",
    )

    def select_other(service: Obj) -> None:
        service["spec"]["selector"] = {"app": "other"}
        service["spec"]["ports"][0]["targetPort"] = 9090

    sandbox.call(lambda s: s.mutate("services", "default", "goldpinger", select_other))

    def switched(store: Store) -> bool:
        endpoints = store.peek("endpoints", "default", "goldpinger") or {}
        subsets = endpoints.get("subsets") or [{}]
        return (
            _endpoint_pods(store, "goldpinger") == [first]
            and subsets[0]["ports"][0]["port"] == 9090
        )

    wait_for(lambda: sandbox.call(switched), what="the endpoints of the new selector and port")


def test_an_event_seen_again_outlives_one_seen_once(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(timing=replace(SandboxTiming.fast(), event_ttl_seconds=4.0))

    def record(name: str) -> None:
        event = {
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
            "reason": "Testing",
            "lastTimestamp": rfc3339(time.time()),
        }
        box.call(lambda s: s.create("events", event))

    def names() -> set[str]:
        found = box.call(lambda s: s.list("events", "default"))
        return {e["metadata"]["name"] for e in found if e["reason"] == "Testing"}

    record("once")
    record("again")
    time.sleep(2)
    box.call(
        lambda s: s.mutate(
            "events",
            "default",
            "again",
            lambda e: e.update({"lastTimestamp": rfc3339(time.time()), "count": 2}),
        )
    )
    wait_for(lambda: "once" not in names(), timeout=10, what="the event seen once to expire")
    assert "again" in names()
    wait_for(lambda: not names(), timeout=10, what="the event seen again to expire later")

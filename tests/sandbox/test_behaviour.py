"""The simulated cluster behaves like one: services answer, machines stop, pods move."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any

import pytest

from sandbox.api import Faults
from sandbox.cluster import ClusterDescription, DeploymentSpec, NodeGroup, ServiceSpec
from sandbox.sandbox import Sandbox
from sandbox.store import Store
from sandbox.timing import SandboxTiming
from tests.conftest import SandboxFactory, wait_for


def http_get(url: str, timeout: float = 5) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, None  # not listening yet


def admin(box: Any, method: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{box.url}/sandbox/v1/{path}",
        method=method,
        headers={"Authorization": f"Bearer {box.token}"},
    )
    context = ssl.create_default_context(cafile=str(box.ca_path))
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def service_url(box: Any, namespace: str, name: str, path: str = "/healthz") -> str:
    service = box.call(lambda store: store.get("services", namespace, name))
    ip, port = service["spec"].get("clusterIP"), service["spec"]["ports"][0]["port"]
    if not ip:
        return ""  # not given out yet
    assert ip.startswith("127.") and ip != "127.0.0.1"
    return f"http://{ip}:{port}{path}"


def test_service_answers_round_robin_on_its_cluster_ip(sandbox: Any) -> None:
    url = wait_for(lambda: service_url(sandbox, "default", "goldpinger"), what="a cluster IP")
    answers = [wait_for(lambda: http_get(url), what="the service") for _ in range(6)]
    assert all(code == 200 for code, _ in answers)
    pods = {body["pod"] for _, body in answers}
    assert len(pods) == 3
    assert answers[0][1]["path"] == "/healthz"


def test_service_with_no_ready_pod_answers_503(sandbox: Any) -> None:
    url = wait_for(lambda: service_url(sandbox, "default", "goldpinger"), what="a cluster IP")
    wait_for(lambda: http_get(url)[0] == 200, what="the service to answer")

    def scale_to_zero(store: Store) -> None:
        store.mutate(
            "deployments", "default", "goldpinger", lambda d: d["spec"].__setitem__("replicas", 0)
        )

    sandbox.call(scale_to_zero)
    wait_for(lambda: http_get(url)[0] == 503, what="503 with no ready endpoint")


def test_pod_environment_sets_latency_and_errors(sandbox_factory: SandboxFactory) -> None:
    cluster = ClusterDescription(
        namespaces=("default",),
        nodes=(NodeGroup("node", 2),),
        deployments=(
            DeploymentSpec(
                "flaky", "default", 2, {"app": "flaky"}, 8080, env={"SEAL_SANDBOX_ERROR_RATE": "1"}
            ),
        ),
        services=(ServiceSpec("flaky", "default", {"app": "flaky"}, ((8080, 8080),)),),
    )
    box = sandbox_factory(cluster)
    url = wait_for(lambda: service_url(box, "default", "flaky"), what="a cluster IP")
    assert wait_for(lambda: http_get(url)[0] == 500, what="injected errors")


def test_stopping_a_machine_moves_its_pods_and_starting_it_heals(sandbox: Any) -> None:
    def worker_with_pods(store: Store) -> tuple[str, str, list[str]]:
        for pod in store.list("pods", "default"):
            node = store.get("nodes", "", pod["spec"]["nodeName"])
            pods = [
                p["metadata"]["name"]
                for p in store.list(
                    "pods", field_selector=f"spec.nodeName={node['metadata']['name']}"
                )
            ]
            return node["metadata"]["name"], node["spec"]["providerID"][len("sandbox://") :], pods
        raise AssertionError("no pods")

    node_name, machine_id, pods = sandbox.call(worker_with_pods)
    code, machine = admin(sandbox, "POST", f"machines/{machine_id}/stop")
    assert code == 200 and machine["state"] == "stopped"

    def node_ready(store: Store) -> str:
        node = store.get("nodes", "", node_name)
        return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")

    wait_for(lambda: sandbox.call(node_ready) == "Unknown", what="the node to be NotReady")

    def moved(store: Store) -> bool:
        current = store.list("pods", field_selector=f"spec.nodeName={node_name}")
        running = [
            p
            for p in store.list("pods", "default", label_selector="app=goldpinger")
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]
        return not current and len(running) == 3

    wait_for(lambda: sandbox.call(moved), what="pods replaced on other nodes")
    assert pods
    code, machine = admin(sandbox, "POST", f"machines/{machine_id}/start")
    assert machine["state"] == "running"
    wait_for(lambda: sandbox.call(node_ready) == "True", what="the node to be Ready again")

    def node_events(store: Store) -> list[str]:
        return [
            e["reason"]
            for e in store.list("events", field_selector=f"involvedObject.name={node_name}")
            if e["involvedObject"]["kind"] == "Node"
        ]

    wait_for(
        lambda: sandbox.call(node_events) == ["NodeNotReady", "NodeReady"],
        what="the node's events",
    )


def test_admin_api_lists_machines_and_rejects_unknown_ids(sandbox: Any) -> None:
    code, listing = admin(sandbox, "GET", "machines")
    assert code == 200 and len(listing["machines"]) == 8
    assert {m["zone"] for m in listing["machines"]} == {"WEST-1", "WEST-2", "EAST-1"}
    code, missing = admin(sandbox, "POST", "machines/vm-nope/stop")
    assert code == 404 and missing["reason"] == "NotFound"


def test_scheduler_respects_taints_and_node_selectors(sandbox: Any) -> None:
    def place(store: Store) -> None:
        pod = {
            "metadata": {"name": "pinned", "namespace": "default"},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": "worker-2"},
                "containers": [{"name": "c", "image": "x"}],
            },
        }
        store.create("pods", pod)
        store.create(
            "pods",
            {
                "metadata": {"name": "nowhere", "namespace": "default"},
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "containers": [{"name": "c", "image": "x"}],
                },
            },
        )

    sandbox.call(place)

    def node_of(name: str) -> Any:
        return sandbox.call(lambda s: s.get("pods", "default", name)["spec"].get("nodeName"))

    assert wait_for(lambda: node_of("pinned"), what="scheduling") == "worker-2"
    pods = sandbox.call(lambda s: s.list("pods"))
    assert not [p for p in pods if "master" in (p["spec"].get("nodeName") or "")]

    def unschedulable(store: Store) -> bool:
        pod = store.get("pods", "default", "nowhere")
        return any(
            c["type"] == "PodScheduled" and c["status"] == "False"
            for c in pod["status"].get("conditions") or []
        )

    wait_for(lambda: sandbox.call(unschedulable), what="PodScheduled=False")
    assert node_of("nowhere") is None


@pytest.mark.parametrize("rate", [1.0])
def test_api_faults_are_injected(sandbox_factory: SandboxFactory, rate: float) -> None:
    box = sandbox_factory(faults=Faults(error_rate=rate, seed=3))
    context = ssl.create_default_context(cafile=str(box.ca_path))
    codes = set()
    for _ in range(20):
        request = urllib.request.Request(
            f"{box.url}/api/v1/pods", headers={"Authorization": f"Bearer {box.token}"}
        )
        try:
            urllib.request.urlopen(request, context=context, timeout=5)
            codes.add(200)
        except urllib.error.HTTPError as exc:
            codes.add(exc.code)
        except (urllib.error.URLError, ConnectionError):
            codes.add("dropped")
    assert 200 not in codes
    assert {500, 429} <= codes


def test_events_expire_after_their_time_to_live(sandbox_factory: SandboxFactory) -> None:
    box = sandbox_factory(timing=replace(SandboxTiming.fast(), event_ttl_seconds=1.0))

    def record(name: str) -> None:
        box.call(
            lambda store: store.create(
                "events",
                {
                    "metadata": {"name": name, "namespace": "default"},
                    "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
                    "reason": "Testing",
                },
            )
        )

    def names() -> set[str]:
        found = box.call(lambda store: store.list("events"))
        return {e["metadata"]["name"] for e in found if e["reason"] == "Testing"}

    record("old")
    assert names() == {"old"}
    wait_for(lambda: "old" not in names(), timeout=15, what="the old event to expire")
    record("new")
    assert "new" in names()


def test_the_cluster_tells_what_happened_in_events(sandbox: Sandbox) -> None:
    def reasons(kind: str) -> set[str]:
        found = sandbox.call(lambda store: store.list("events", "default"))
        return {e["reason"] for e in found if e["involvedObject"]["kind"] == kind}

    victim = sandbox.call(lambda store: store.list("pods", "default"))[0]
    before = {e["metadata"]["name"] for e in sandbox.call(lambda s: s.list("events", "default"))}
    sandbox.call(
        lambda store: store.delete(
            "pods", "default", victim["metadata"]["name"], grace_period_seconds=5
        )
    )

    def new_reasons(kind: str) -> set[str]:
        found = sandbox.call(lambda store: store.list("events", "default"))
        return {
            e["reason"]
            for e in found
            if e["involvedObject"]["kind"] == kind and e["metadata"]["name"] not in before
        }

    # Preset pods come with the events of their start: wait for those of the replacement.
    wait_for(
        lambda: {"Killing", "Scheduled", "Pulled", "Created", "Started"} <= new_reasons("Pod"),
        what="the kubelet's and the scheduler's events",
    )
    assert "SuccessfulCreate" in reasons("ReplicaSet")
    [killing] = [
        e
        for e in sandbox.call(lambda store: store.list("events", "default"))
        if e["reason"] == "Killing"
    ]
    assert killing["involvedObject"]["name"] == victim["metadata"]["name"]
    assert killing["source"] == {"component": "kubelet", "host": victim["spec"]["nodeName"]}


def test_two_sandboxes_with_one_seed_answer_each_for_its_own_services(
    sandbox_factory: SandboxFactory,
) -> None:
    first, second = sandbox_factory(seed=1), sandbox_factory(seed=1)
    urls = [
        wait_for(lambda box=box: service_url(box, "default", "goldpinger"), what="a cluster IP")
        for box in (first, second)
    ]
    assert urls[0] != urls[1]
    for box, url in zip((first, second), urls, strict=True):
        own = {p["metadata"]["name"] for p in box.call(lambda s: s.list("pods", "default"))}
        _, body = wait_for(lambda url=url: http_get(url)[0] == 200 and http_get(url), what=url)
        assert body["pod"] in own

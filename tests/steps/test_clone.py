"""The clone step in process: real Deployments and Services in a sandbox, undos in a real
journal, the clone's manifest checked against Kubernetes 1.30's own schema."""

from __future__ import annotations

import importlib
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from seal.clock import SystemClock
from seal.errors import StepFailed
from seal.runtime.scenario import replay_undos
from seal.steps.clone import CLONE_UNDO, STEP
from seal.steps.clone.manifest import clone_manifest, container_ports
from seal.steps.clone.run import SELECTOR_ANNOTATION
from tests.conftest import wait_for
from tests.steps.conftest import HarnessFactory, ObservingUndo, StepHarness

SOURCE = "source: {deployment: {name: goldpinger, namespace: default}}"
TOXIPROXY = """\
- clone:
    SOURCE
    replicas: 2
    mutations:
    - toxiproxy:
        proxies: [{name: redis, listen: "127.0.0.1:6380", upstream: "redis:6379"}]
        toxics:
        - {targetProxy: "8080", toxicType: latency,
           toxicAttributes: [{name: latency, value: 250}, {name: jitter, value: 10}]}
        - {targetProxy: redis, toxicType: bandwidth, toxicAttributes: [{name: rate, value: 10}]}
""".replace("SOURCE", SOURCE)


@pytest.fixture
def harness(harness_factory: HarnessFactory) -> StepHarness:
    """A harness whose step clock is the real one: a clone that retargets services waits,
    in real time, until the sandbox has its replicas available."""
    return harness_factory(clock=SystemClock())  # type: ignore[arg-type]


def deployment(h: StepHarness, name: str, namespace: str = "default") -> dict[str, Any] | None:
    found: dict[str, Any] | None = h.store(lambda s: s.peek("deployments", namespace, name))
    return found


def selector(h: StepHarness, name: str = "goldpinger", namespace: str = "default") -> Any:
    service = h.store(lambda s: s.get("services", namespace, name))
    return service["spec"].get("selector"), service["metadata"].get("annotations") or {}


def deployments(h: StepHarness) -> dict[str, tuple[str, Any]]:
    """Every Deployment's uid and spec (its status is the sandbox's to change)."""
    return {
        f"{d['metadata']['namespace']}/{d['metadata']['name']}": (d["metadata"]["uid"], d["spec"])
        for d in h.store(lambda s: s.list("deployments"))
    }


def replay(h: StepHarness) -> None:
    report = replay_undos(h.journal, h.context(), h.metrics, h.run_id)
    assert not report.failed, report.failed
    assert h.journal.pending(h.run_id) == []


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.30", strict=True)


def test_clone_copies_the_source_less_what_the_cluster_wrote(harness: StepHarness) -> None:
    harness.store(
        lambda s: s.mutate(
            "deployments",
            "default",
            "goldpinger",
            lambda d: (
                d["metadata"]
                .setdefault("annotations", {})
                .update({"deployment.kubernetes.io/revision": "3", "team": "sre"})
            ),
        )
    )
    source = deployment(harness, "goldpinger")
    assert source is not None
    outcome = harness.run(
        STEP,
        f"""\
        - clone:
            {SOURCE}
            replicas: 2
            mutations:
            - environment: {{name: SEAL_SANDBOX_LATENCY_MS, value: 5}}
        """,
    )
    assert outcome.result == "passed"
    assert outcome.reason == "created Deployment default/goldpinger-chaos (2 replica(s))"
    clone = deployment(harness, "goldpinger-chaos")
    assert clone is not None
    meta = clone["metadata"]
    assert meta["uid"] != source["metadata"]["uid"]
    assert "ownerReferences" not in meta
    assert meta["annotations"]["team"] == "sre"
    # not copied (the cluster may write its own, counting the clone's revisions)
    assert meta["annotations"].get("deployment.kubernetes.io/revision") != "3"
    assert meta["labels"]["chaos"] == "true"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "seal"
    assert meta["annotations"]["seal/clone-of"] == "goldpinger"
    assert clone["spec"]["replicas"] == 2
    assert clone["spec"]["selector"]["matchLabels"] == {"app": "goldpinger", "chaos": "true"}
    template = clone["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "goldpinger", "chaos": "true"}
    [container] = template["spec"]["containers"]
    assert {"name": "SEAL_SANDBOX_LATENCY_MS", "value": "5"} in container["env"]
    # the original is untouched and its pods are not the clone's
    after = deployment(harness, "goldpinger")
    assert after is not None and after["spec"] == source["spec"]
    wait_for(
        lambda: len(harness.live("default", "app=goldpinger,chaos=true")) == 2,
        timeout=20,
        what="the clone's two pods",
    )
    assert len(harness.live("default", "app=goldpinger,chaos!=true")) == 3


def test_every_mutation_gives_a_deployment_kubernetes_accepts(harness: StepHarness) -> None:
    source = deployment(harness, "goldpinger")
    assert source is not None
    source["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "7"
    spec, _ = harness.spec(
        STEP,
        TOXIPROXY.replace(
            "    mutations:\n",
            "    mutations:\n"
            "    - environment: {name: MODE, value: chaos}\n"
            "    - tc: {command: [tc], args: [qdisc, add, dev, eth0, root, netem, delay, 250ms]}\n",
        ),
    )
    manifest = clone_manifest(source, spec, None, "marker", "scenario")  # type: ignore[arg-type]
    validate(manifest)
    meta = manifest["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        assert key not in meta
    assert "status" not in manifest
    assert "deployment.kubernetes.io/revision" not in meta["annotations"]
    assert meta["name"] == "goldpinger-chaos"
    assert meta["annotations"]["seal/run-id"] == "marker"
    pod = manifest["spec"]["template"]["spec"]
    names = [c["name"] for c in pod["initContainers"]]
    assert names == [
        "seal-tc-1",
        "seal-toxiproxy-redirect",
        "seal-toxiproxy",
        "seal-toxiproxy-proxy-0",
        "seal-toxiproxy-proxy-1",
        "seal-toxiproxy-toxic-0",
        "seal-toxiproxy-toxic-1",
    ]
    tc, redirect, sidecar, auto, extra, latency, bandwidth = pod["initContainers"]
    assert tc["command"] == ["tc"]
    assert tc["args"] == ["qdisc", "add", "dev", "eth0", "root", "netem", "delay", "250ms"]
    assert tc["securityContext"]["capabilities"] == {"add": ["NET_ADMIN"]}
    assert redirect["securityContext"]["capabilities"] == {"add": ["NET_ADMIN"]}
    assert "--dport 8080 -j REDIRECT --to-ports 40000" in redirect["command"][-1]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["command"] == ["/toxiproxy"]
    cli = ["/toxiproxy-cli", "--host=http://127.0.0.1:8474"]
    assert auto["command"] == [
        *cli,
        "create",
        "-l",
        "0.0.0.0:40000",
        "-u",
        "127.0.0.1:8080",
        "auto8080",
    ]
    assert extra["command"][-5:] == ["-l", "127.0.0.1:6380", "-u", "redis:6379", "redis"]
    assert latency["command"] == [
        *cli, "toxic", "add", "-t", "latency", "-n", "seal-latency-0",
        "-a", "latency=250", "-a", "jitter=10", "auto8080",
    ]  # fmt: skip
    assert bandwidth["command"][-1] == "redis"
    assert {"name": "MODE", "value": "chaos"} in pod["containers"][0]["env"]


def test_container_ports_are_tcp_and_listed_once() -> None:
    source = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "ports": [
                                {"containerPort": 80},
                                {"containerPort": 53, "protocol": "UDP"},
                            ]
                        },
                        {"ports": [{"containerPort": 80}, {"containerPort": 9090}]},
                    ]
                }
            }
        }
    }
    assert container_ports(source) == [80, 9090]


def test_the_undo_is_written_before_the_clone_exists_and_reverts_everything(
    harness: StepHarness,
) -> None:
    observer = ObservingUndo(
        harness.undo,
        lambda: (deployment(harness, "goldpinger-chaos"), selector(harness)[0]),
    )
    outcome = harness.run(
        STEP,
        TOXIPROXY.replace(
            "    replicas: 2\n",
            "    replicas: 2\n    servicesToRetarget: [{service: {name: goldpinger, "
            "namespace: default}}]\n",
        ),
        undo=observer,
    )
    assert observer.seen == [(None, {"app": "goldpinger"})]
    assert outcome.reason == (
        "created Deployment default/goldpinger-chaos (2 replica(s)); default/goldpinger now "
        "selects chaos=true"
    )
    # the service was retargeted only once the clone could answer: its replicas available
    available = deployment(harness, "goldpinger-chaos")["status"]["availableReplicas"]  # type: ignore[index]
    assert available == 2
    assert selector(harness) == (
        {"app": "goldpinger", "chaos": "true"},
        {SELECTOR_ANNOTATION: "null"},
    )
    clone = deployment(harness, "goldpinger-chaos")
    assert clone is not None
    validate({k: v for k, v in clone.items() if k != "status"})
    [entry] = harness.journal.pending(harness.run_id)
    assert entry.kind == CLONE_UNDO
    assert entry.payload["services"] == [["default", "goldpinger"]]
    replay(harness)
    assert deployment(harness, "goldpinger-chaos") is None
    assert selector(harness) == ({"app": "goldpinger"}, {})
    wait_for(
        lambda: not harness.live("default", "chaos=true"), timeout=20, what="the clone's pods gone"
    )


def test_labels_from_the_list_and_from_a_service(harness: StepHarness) -> None:
    outcome = harness.run(
        STEP,
        f"""\
        - clone:
            {SOURCE}
            labels:
            - service: {{name: my-service, namespace: myapp}}
            - label: {{key: tier, value: canary}}
        """,
    )
    assert outcome.result == "passed"
    clone = deployment(harness, "goldpinger-chaos")
    assert clone is not None
    wanted = {"app": "my-service", "tier": "canary", "chaos": "true"}
    assert clone["spec"]["template"]["metadata"]["labels"] == wanted
    assert clone["spec"]["selector"] == {"matchLabels": wanted}
    assert clone["spec"]["replicas"] == 1
    replay(harness)


def test_a_service_keeps_its_original_when_retargeted_twice(harness: StepHarness) -> None:
    harness.store(
        lambda s: s.mutate(
            "services", "default", "goldpinger", lambda o: o["spec"]["selector"].update(chaos="no")
        )
    )
    retarget = "servicesToRetarget: [{service: {name: goldpinger, namespace: default}}]"
    harness.run(STEP, f"- clone:\n    {SOURCE}\n    {retarget}\n")
    harness.run(
        STEP,
        f"- clone:\n    source: {{deployment: {{name: my-service, namespace: myapp}}}}\n"
        f"    {retarget}\n",
    )
    assert selector(harness)[0] == {"app": "goldpinger", "chaos": "true"}
    replay(harness)
    assert selector(harness) == ({"app": "goldpinger", "chaos": "no"}, {})
    assert deployment(harness, "my-service-chaos", "myapp") is None


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            "- clone: {source: {deployment: {name: nothere, namespace: default}}}",
            "clone source (line {line}): Deployment default/nothere does not exist; nothing "
            "was changed",
        ),
        (
            f"- clone:\n    {SOURCE}\n    labels: [service: {{name: bare, namespace: default}}]",
            "labels (line {line}): Service default/bare has no selector (its endpoints are managed "
            "by hand), so it cannot choose the clone's pods; nothing was changed",
        ),
        (
            f"- clone:\n    {SOURCE}\n"
            "    servicesToRetarget: [{service: {name: ghost, namespace: default}}]",
            "servicesToRetarget (line {line}): Service default/ghost does not exist; nothing was "
            "changed",
        ),
        (
            f"- clone:\n    {SOURCE}\n    mutations:\n"
            "    - toxiproxy: {toxics: [{targetProxy: '9090', toxicType: timeout}]}",
            "toxic on proxy auto9090 (line {line}): port 9090 is not a TCP port of the containers "
            "of Deployment default/goldpinger (they declare: 8080)",
        ),
    ],
)
def test_a_bad_spec_fails_precisely_before_anything_changes(
    harness: StepHarness, steps: str, message: str
) -> None:
    harness.store(
        lambda s: s.create(
            "services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "bare", "namespace": "default"},
                "spec": {"ports": [{"port": 80}]},
            },
        )
    )
    before = deployments(harness)
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, steps)
    assert str(failure.value) == message.format(line=harness.line("source:"))
    assert deployments(harness) == before
    assert selector(harness) == ({"app": "goldpinger"}, {})
    assert len(harness.journal) == 0


def test_a_deployment_of_the_clones_name_that_is_not_seals_is_left_alone(
    harness: StepHarness,
) -> None:
    source = deployment(harness, "goldpinger")
    assert source is not None
    harness.store(
        lambda s: s.create(
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "goldpinger-chaos", "namespace": "default"},
                "spec": source["spec"],
            },
        )
    )
    before = deployments(harness)
    with pytest.raises(StepFailed, match="already exists and is not a clone seal made"):
        harness.run(STEP, f"- clone:\n    {SOURCE}\n")
    assert deployments(harness) == before
    assert len(harness.journal) == 0


def test_a_dry_run_creates_nothing_and_says_what_it_would(harness: StepHarness) -> None:
    before = deployments(harness)
    outcome = harness.run(
        STEP,
        f"- clone:\n    {SOURCE}\n    replicas: 3\n"
        "    servicesToRetarget: [{service: {name: goldpinger, namespace: default}}]\n",
        config="safety: {dryRun: true}",
    )
    assert outcome.result == "passed"
    assert outcome.reason == (
        "dry run: would create Deployment default/goldpinger-chaos (3 replica(s)), and add "
        "chaos=true to the selector of default/goldpinger"
    )
    assert deployments(harness) == before
    assert selector(harness) == ({"app": "goldpinger"}, {})
    assert len(harness.journal) == 0


def test_a_clone_left_by_a_crashed_run_is_adopted_not_duplicated(
    harness_factory: Callable[..., StepHarness],
) -> None:
    harness = harness_factory()
    steps = (
        f"- clone:\n    {SOURCE}\n    replicas: 2\n"
        "    servicesToRetarget: [{service: {name: goldpinger, namespace: default}}]\n"
    )
    harness.run(STEP, steps)
    left = deployment(harness, "goldpinger-chaos")
    assert left is not None
    # The run died and its journal was lost: a new run finds the clone it left.
    for entry in harness.journal.pending(harness.run_id):
        harness.journal.discard(entry)
    outcome = harness.run(STEP, steps.replace("replicas: 2", "replicas: 1"))
    assert outcome.reason.startswith("adopted and updated Deployment default/goldpinger-chaos")
    clones = [
        d for d in harness.store(lambda s: s.list("deployments", "default"))
        if d["metadata"]["name"].startswith("goldpinger-chaos")
    ]  # fmt: skip
    assert len(clones) == 1
    assert clones[0]["metadata"]["uid"] == left["metadata"]["uid"]
    assert clones[0]["spec"]["replicas"] == 1
    [entry] = harness.journal.pending(harness.run_id)
    assert left["metadata"]["annotations"]["seal/run-id"] in entry.payload["markers"]
    replay(harness)
    assert deployment(harness, "goldpinger-chaos") is None
    # the service had been retargeted by the lost run: its true original comes back
    assert selector(harness) == ({"app": "goldpinger"}, {})


def test_the_undo_spares_a_clone_another_run_made(harness: StepHarness) -> None:
    harness.run(STEP, f"- clone:\n    {SOURCE}\n")
    harness.store(
        lambda s: s.mutate(
            "deployments",
            "default",
            "goldpinger-chaos",
            lambda d: d["metadata"]["annotations"].update({"seal/run-id": "another run"}),
        )
    )
    replay(harness)
    assert deployment(harness, "goldpinger-chaos") is not None


SLOW_CLONE = {
    "toxiproxy": """\
    - toxiproxy:
        toxics:
        - targetProxy: auto8080
          toxicType: latency
          toxicAttributes: [{name: latency, value: 250}]
""",
    "tc": """\
    - tc: {command: [tc], args: [qdisc, add, dev, eth0, root, netem, delay, 250ms]}
""",
}


def endpoints(h: StepHarness, namespace: str, name: str) -> int:
    found = h.store(lambda s: s.peek("endpoints", namespace, name)) or {}
    return sum(len(subset.get("addresses") or []) for subset in found.get("subsets") or [])


def timed_get(url: str) -> tuple[float, str]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=5) as answer:
        pod = json.loads(answer.read())["pod"]
    return time.monotonic() - started, pod


@pytest.mark.parametrize("mutation", sorted(SLOW_CLONE))
def test_two_slow_clones_of_five_pods_slow_two_fifths_of_the_service(
    harness: StepHarness, mutation: str
) -> None:
    outcome = harness.run(
        STEP, f"- clone:\n    {SOURCE}\n    replicas: 2\n    mutations:\n{SLOW_CLONE[mutation]}"
    )
    assert outcome.result == "passed"
    wait_for(lambda: endpoints(harness, "default", "goldpinger") == 5, timeout=30, what="5 pods")
    service = harness.kube.get_service("default", "goldpinger")
    answers = [timed_get(f"http://{service.cluster_ip}:8080/healthz") for _ in range(20)]
    slow = [pod for seconds, pod in answers if seconds >= 0.24]
    fast = [pod for seconds, pod in answers if seconds < 0.2]
    assert len(slow) + len(fast) == len(answers)
    assert 5 <= len(slow) <= 11, answers  # 40% of 20, give or take
    assert all("-chaos-" in pod for pod in slow)
    assert not any("-chaos-" in pod for pod in fast)
    replay(harness)
    wait_for(lambda: endpoints(harness, "default", "goldpinger") == 3, timeout=30, what="3 pods")
    assert max(timed_get(f"http://{service.cluster_ip}:8080/")[0] for _ in range(5)) < 0.2


def test_a_clone_that_never_becomes_available_is_not_given_the_traffic(
    harness: StepHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the module (the package's `run` attribute is the step's function of that name)
    clone_run = importlib.import_module("seal.steps.clone.run")
    monkeypatch.setattr(clone_run, "AVAILABLE_TIMEOUT", 0.0)
    steps = TOXIPROXY.replace(
        "    replicas: 2\n",
        "    replicas: 2\n    servicesToRetarget: [{service: {name: goldpinger, "
        "namespace: default}}]\n",
    )
    with pytest.raises(StepFailed) as failure:
        harness.run(STEP, steps)
    assert str(failure.value).startswith(
        f"clone (line {harness.line('source:')}): Deployment default/goldpinger-chaos has "
    )
    assert str(failure.value).endswith(
        "of 2 replica(s) available after 0 s; no service was retargeted to it"
    )
    assert selector(harness) == ({"app": "goldpinger"}, {})
    replay(harness)  # the clone the undo was written for is deleted
    assert deployment(harness, "goldpinger-chaos") is None

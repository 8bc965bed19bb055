"""The clone step end to end: `python -m seal autonomous` against a sandbox, one run per
mutation. While seal runs, the test watches the cluster: the clone is there, with its
mutation, taking its share of the service's traffic; afterwards it is gone, the services
select as before and the journal is empty."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import run_seal, start, write_policy
from tests.conftest import SandboxFactory, wait_for

#: 2 clones next to the 3 goldpinger pods, held for the test to look at them
CLONE = """\
scenarios:
- name: clone goldpinger
  steps:
  - clone:
      source: {deployment: {name: goldpinger, namespace: default}}
      replicas: 2
%s      mutations:
      - %s
  - wait: {seconds: 6}
  - probeHTTP:
      target: {service: {name: goldpinger, namespace: default, port: 8080}}
      endpoint: /healthz
      count: 5
      timeout: 2000
"""
RETARGET = "      servicesToRetarget: [{service: {name: goldpinger, namespace: default}}]\n"
TOXIPROXY = (
    "toxiproxy: {toxics: [{targetProxy: '8080', toxicType: latency, "
    "toxicAttributes: [{name: latency, value: 250}]}]}"
)
TC = "tc: {command: [tc], args: [qdisc, add, dev, eth0, root, netem, delay, 250ms]}"
ENVIRONMENT = "environment: {name: SEAL_SANDBOX_LATENCY_MS, value: 250}"


def clone(box: Sandbox) -> Any:
    return box.call(lambda s: s.peek("deployments", "default", "goldpinger-chaos"))


def service(box: Sandbox) -> Any:
    return box.call(lambda s: s.get("services", "default", "goldpinger"))


def ready_endpoints(box: Sandbox) -> list[str]:
    found = box.call(lambda s: s.peek("endpoints", "default", "goldpinger")) or {}
    return [
        a["targetRef"]["name"]
        for subset in found.get("subsets") or []
        for a in subset.get("addresses") or []
    ]


def slow_share(url: str, requests: int = 20) -> tuple[float, set[str]]:
    """The share of answers that took 250 ms or more, and which pods gave them."""
    slow: set[str] = set()
    count = 0
    for _ in range(requests):
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=5) as answer:
            pod = json.loads(answer.read())["pod"]
        if time.monotonic() - started >= 0.24:
            count += 1
            slow.add(pod)
    return count / requests, slow


def run_with_clone(
    box: Sandbox, tmp_path: Path, mutation: str, look: Callable[[], Any], retarget: str = ""
) -> Any:
    """seal in the background; `look()` once the clone serves; then seal's end, checked."""
    policy = write_policy(tmp_path, CLONE % (retarget, mutation))
    state = tmp_path / "state"
    process = start(box, policy, state)
    try:
        made = wait_for(lambda: clone(box), timeout=30, what="the clone")
        wait_for(
            lambda: (
                sum("-chaos-" in p for p in ready_endpoints(box)) == 2
                and (not retarget or len(ready_endpoints(box)) == 2)
            ),
            timeout=30,
            what="the clone's 2 pods serving",
        )
        seen = look()
        _, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "undone: delete the clone default/goldpinger-chaos" in stderr
    assert clone(box) is None
    assert service(box)["spec"]["selector"] == {"app": "goldpinger"}
    assert "seal/selector-chaos-before" not in (service(box)["metadata"].get("annotations") or {})
    wait_for(
        lambda: not any("-chaos-" in p for p in ready_endpoints(box)),
        timeout=30,
        what="the clone's pods gone from the service",
    )
    assert all(not p.read_text().strip() for p in state.glob("*.jsonl"))
    return made, seen


@pytest.fixture
def box(sandbox_factory: SandboxFactory) -> Sandbox:
    # A random seed: cluster IPs of its own, whatever other sandboxes run on this machine.
    return sandbox_factory(seed=None)


def url_of(box: Sandbox) -> str:
    return f"http://{service(box)['spec']['clusterIP']}:8080/healthz"


@pytest.mark.parametrize("mutation", ["toxiproxy", "tc"])
def test_slow_clones_slow_two_fifths_of_the_service(
    box: Sandbox, tmp_path: Path, mutation: str
) -> None:
    text = TOXIPROXY if mutation == "toxiproxy" else TC
    made, (share, slow) = run_with_clone(box, tmp_path, text, lambda: slow_share(url_of(box)))
    init = made["spec"]["template"]["spec"]["initContainers"]
    if mutation == "toxiproxy":
        assert [c["name"] for c in init] == [
            "seal-toxiproxy-redirect",
            "seal-toxiproxy",
            "seal-toxiproxy-proxy-0",
            "seal-toxiproxy-toxic-0",
        ]
    else:
        assert [c["name"] for c in init] == ["seal-tc-0"]
        assert init[0]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    # 2 of 5 pods are slow: 40% of the answers, give or take
    assert 0.25 <= share <= 0.55, share
    assert slow and all("goldpinger-chaos-" in pod for pod in slow)


def test_environment_with_retargeted_service_sends_every_request_to_the_clone(
    box: Sandbox, tmp_path: Path
) -> None:
    def look() -> Any:
        return service(box)["spec"]["selector"], ready_endpoints(box), slow_share(url_of(box), 8)

    made, (selector, endpoints, (share, slow)) = run_with_clone(
        box, tmp_path, ENVIRONMENT, look, RETARGET
    )
    [container] = made["spec"]["template"]["spec"]["containers"]
    assert {"name": "SEAL_SANDBOX_LATENCY_MS", "value": "250"} in container["env"]
    assert selector == {"app": "goldpinger", "chaos": "true"}
    assert len(endpoints) == 2 and all("-chaos-" in p for p in endpoints)
    assert share == 1.0 and len(slow) == 2


def test_a_clone_left_by_a_killed_seal_is_removed_at_the_next_start(
    box: Sandbox, tmp_path: Path
) -> None:
    policy = write_policy(
        tmp_path, (CLONE % (RETARGET, TOXIPROXY)).replace("seconds: 6", "seconds: 60")
    )
    state = tmp_path / "state"
    process = start(box, policy, state)
    try:
        wait_for(
            lambda: service(box)["spec"]["selector"].get("chaos"), timeout=30, what="retargeting"
        )
        left = clone(box)
        process.kill()
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert left is not None and clone(box) is not None
    result = run_seal(box, write_policy(tmp_path, "scenarios: []\n", "empty.yml"), state)
    assert result.returncode == 0, result.stderr
    assert "an earlier run left 1 undo(s) pending" in result.stderr
    assert clone(box) is None
    assert service(box)["spec"]["selector"] == {"app": "goldpinger"}
    assert all(not p.read_text().strip() for p in state.glob("*.jsonl"))

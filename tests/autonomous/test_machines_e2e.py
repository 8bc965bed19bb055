"""Machines end to end: seal stops a machine through the sandbox's cloud driver while a
service is probed; the node goes NotReady, its pods are replaced elsewhere, and the
machine is started again when the scenario ends."""

from __future__ import annotations

import json
import signal
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import run_seal, seal, start, write_policy
from tests.conftest import wait_for

STOP_ONE_IN_WEST = """\
scenarios:
- name: lose one worker in the west
  steps:
  - nodeAction:
      matches: [{property: {name: az, value: 'WEST.*'}}]
      filters:
      - property: {name: name, value: '%s$'}
      - randomSample: {size: 1}
      actions: [{stop: {autoRestart: true}}]
  - wait: {seconds: 3}
  - probeHTTP:
      target: {service: {name: my-service, namespace: myapp, port: 80}}
      endpoint: /healthz
      count: 5
      retries: 10
      delay: 200
"""


def events(box: Sandbox, reason: str) -> list[Any]:
    return list(box.call(lambda s: [e for e in s.list("events") if e.get("reason") == reason]))


def ready(box: Sandbox, node: str) -> str:
    def read(store: Any) -> str:
        obj = store.get("nodes", "", node)
        return next(c["status"] for c in obj["status"]["conditions"] if c["type"] == "Ready")

    return str(box.call(read))


def test_a_stopped_machine_takes_its_node_down_and_is_started_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    before = {
        p["metadata"]["uid"]: p["spec"].get("nodeName")
        for p in sandbox.call(lambda s: s.list("pods", "myapp"))
    }
    west = {m.node_name: m for m in sandbox.machines.by_id.values() if m.zone.startswith("WEST")}
    # a west worker that runs a pod of the probed service
    node = sorted(n for n in set(before.values()) if n in west and n.startswith("worker"))[0]
    policy = write_policy(tmp_path, STOP_ONE_IN_WEST % node)
    result = run_seal(sandbox, policy, tmp_path / "state", "--cloud", "sandbox")
    assert result.returncode == 0, result.stderr
    [machine] = [m for m in sandbox.machines.by_id.values() if m.node_name == node]
    assert f"machine {machine.id} of node {node} is down" in result.stderr
    assert f"undone: start machine {machine.id} (node {node}) again" in result.stderr

    [chaos] = events(sandbox, "SealChaos")
    assert (chaos["involvedObject"]["kind"], chaos["involvedObject"]["name"]) == ("Node", node)
    # the node went NotReady during the scenario, and came back when seal started it again
    assert node in {e["involvedObject"]["name"] for e in events(sandbox, "NodeNotReady")}
    wait_for(lambda: ready(sandbox, node) == "True", what=f"{node} to be Ready again")
    assert node in {e["involvedObject"]["name"] for e in events(sandbox, "NodeReady")}
    assert all(m.running for m in sandbox.machines.by_id.values())
    # the pods it ran were replaced elsewhere while the service kept answering the probe
    lost = {uid for uid, where in before.items() if where == node}
    live = {
        p["metadata"]["uid"]
        for p in sandbox.call(lambda s: s.list("pods", "myapp"))
        if not p["metadata"].get("deletionTimestamp")
    }
    assert lost and not lost & live


def test_without_a_cloud_driver_the_stop_fails_and_no_machine_is_touched(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, STOP_ONE_IN_WEST % "worker-1")
    result = run_seal(sandbox, policy, tmp_path / "state", "--cloud", "none")
    assert result.returncode == 1, result.stderr
    assert "stopping a machine needs a cloud driver" in result.stderr
    assert all(m.running for m in sandbox.machines.by_id.values())


def test_a_machine_stopped_by_a_killed_seal_is_started_by_seal_cleanup(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: stop and hang
          steps:
          - nodeAction:
              matches: [{property: {name: name, value: worker-2$}}]
              actions: [{stop: {autoRestart: true}}]
          - wait: {seconds: 120}
        """,
    )
    [machine] = [m for m in sandbox.machines.by_id.values() if m.node_name == "worker-2"]
    already_down = next(m for m in sandbox.machines.by_id.values() if m.node_name == "worker-4")
    already_down.running = False  # down before seal ran: cleanup must leave it down
    running = start(sandbox, policy, tmp_path / "state", "--cloud", "sandbox")
    try:
        wait_for(lambda: not machine.running, timeout=30, what="seal to stop worker-2's machine")
    finally:
        running.send_signal(signal.SIGKILL)
        running.communicate(timeout=30)
    assert not machine.running
    result = seal(
        "cleanup",
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert result.returncode == 0, result.stderr
    assert "1 undo(s) carried out, 0 left" in result.stdout
    assert machine.running
    assert not already_down.running


def admin(box: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{box.url}/sandbox/v1/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {box.token}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(box.ca_path))
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return json.loads(answer.read())


EXECUTE = """\
scenarios:
- name: run a command on the west workers
  steps:
  - nodeAction:
      matches: [{property: {name: az, value: 'WEST-2'}}]
      filters: [{property: {name: name, value: worker}}]
      actions: [{execute: {cmd: "%s", timeout: 60}}]
"""


def test_execute_runs_in_a_pod_pinned_to_each_node_and_a_failure_fails_the_step(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    admin(sandbox, "POST", "executions/results", {"match": "df -h", "output": "/dev/sda1 10G\n"})
    admin(sandbox, "POST", "executions/results", {"match": "false", "exitCode": 3, "output": "no"})
    result = run_seal(sandbox, write_policy(tmp_path, EXECUTE % "df -h /"), tmp_path / "state")
    assert result.returncode == 0, result.stderr
    runs = admin(sandbox, "GET", "executions")["executions"]
    assert sorted(r["node"] for r in runs) == ["worker-1", "worker-4"]
    assert all("df -h /" in r["joined"] and "nsenter" in r["joined"] for r in runs)
    # the exec pods are gone, and so is their undo
    exec_pods = sandbox.call(lambda s: s.list("pods", None, label_selector="seal/role=exec"))
    assert [p for p in exec_pods if not p["metadata"].get("deletionTimestamp")] == []

    failed = run_seal(sandbox, write_policy(tmp_path, EXECUTE % "false", "f.yml"), tmp_path / "s2")
    assert failed.returncode == 1, failed.stderr
    assert "'false' failed on worker-1: exit 3 (no); worker-4: exit 3 (no)" in failed.stderr

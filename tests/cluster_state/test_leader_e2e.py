"""End to end: two `seal autonomous --state-backend kubernetes --leader-elect` processes
against one sandbox. One leads and applies a ConfigMap (its undo in the journal's ConfigMap),
then waits; SIGKILL it mid-wait: the standby takes the lease within the lease duration,
carries out the dead leader's undo (the ConfigMap is gone) and runs the policy; SIGTERM it:
it undoes its own change and releases the lease. `seal_leader` on both /metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from sandbox.sandbox import Sandbox
from seal.adapters.identity import identify
from seal.runtime.journal_configmap import DATA_KEY, configmap_name
from tests.autonomous.helpers import REPO, free_port, seal_command, write_policy
from tests.cluster_state.conftest import NAMESPACE, Cluster
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "kubectl"], capture_output=True, check=False).returncode != 0,
    reason="needs kubectl",
)

POLICY = """\
scenarios:
- name: apply then wait
  steps:
  - kubectl:
      action: apply
      payload: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: {name}, namespace: default}}
        data: {{by: seal}}
  - wait: {{seconds: 120}}
"""
LEASE = ("3", "2", "0.5")  # duration, renew deadline, retry period


def exists(box: Sandbox, name: str) -> bool:
    return bool(box.call(lambda store: store.peek("configmaps", "default", name)))


def leader_gauge(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    found = re.search(r"^seal_leader (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def start(
    box: Sandbox, policy: Path, tmp_path: Path, name: str, port: int
) -> subprocess.Popen[str]:
    command = seal_command(box, policy, tmp_path / f"state-{name}")
    command += [
        "--state-backend", "kubernetes", "--state-namespace", NAMESPACE, "--leader-elect",
        "--leader-elect-lease-duration", LEASE[0], "--leader-elect-renew-deadline", LEASE[1],
        "--leader-elect-retry-period", LEASE[2], "--metrics-address", f"127.0.0.1:{port}",
    ]  # fmt: skip
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, "POD_NAME": name},
    )


def holder(cluster: Cluster) -> str:
    text = cluster.kubectl("get", "lease", "seal-leader", "-n", NAMESPACE, "-o", "yaml")
    return str(yaml.safe_load(text)["spec"].get("holderIdentity") or "")


def test_the_standby_takes_over_a_killed_leader_and_undoes_its_change(
    cluster: Cluster, tmp_path: Path
) -> None:
    box = cluster.box
    policy = write_policy(tmp_path, POLICY.format(name="chaos-marker"))
    ports = {"seal-a": free_port(), "seal-b": free_port()}
    processes = {n: start(box, policy, tmp_path, n, p) for n, p in ports.items()}
    journal = configmap_name(identify(cluster.kube).uid)
    try:
        wait_for(lambda: exists(box, "chaos-marker"), timeout=60, what="the leader's change")
        leader = holder(cluster)
        (standby,) = [n for n in ports if n != leader]
        # the undo was written to the cluster before the change
        data = box.call(lambda s: s.peek("configmaps", NAMESPACE, journal))["data"][DATA_KEY]
        assert "chaos-marker" in data
        wait_for(lambda: leader_gauge(ports[standby]) == 0.0, timeout=20, what="standby /metrics")
        assert leader_gauge(ports[leader]) == 1.0
        for name, word in ((leader, "leader"), (standby, "standby")):
            status, body = readyz(ports[name])
            assert status == 200 and f"role: {word}" in body, body

        policy.write_text(policy.read_text().replace("chaos-marker", "marker-b"))
        processes[leader].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        processes[leader].wait(timeout=10)
        wait_for(lambda: holder(cluster) == standby, timeout=20, what="the takeover")
        took = time.monotonic() - killed
        assert took <= float(LEASE[0]) + 2.5, took
        wait_for(lambda: not exists(box, "chaos-marker"), timeout=20, what="the replay")
        wait_for(lambda: exists(box, "marker-b"), timeout=20, what="the new leader's run")
        assert leader_gauge(ports[standby]) == 1.0

        processes[standby].send_signal(signal.SIGTERM)
        assert processes[standby].wait(timeout=60) == 128 + signal.SIGTERM
        assert not exists(box, "marker-b")
        assert holder(cluster) == ""  # released: a rollout hands over at once
        data = box.call(lambda s: s.peek("configmaps", NAMESPACE, journal))["data"][DATA_KEY]
        assert data == ""
        log = (tmp_path / f"{standby}.log").read_text()
        assert "an earlier run left 1 undo(s) pending" in log
        assert "undone: kubectl delete of ConfigMap default/chaos-marker" in log
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_a_standby_stopped_by_sigterm_leaves_at_once_and_the_leader_carries_on(
    cluster: Cluster, tmp_path: Path
) -> None:
    box = cluster.box
    policy = write_policy(tmp_path, POLICY.format(name="chaos-marker"))
    ports = {"seal-a": free_port(), "seal-b": free_port()}
    processes = {n: start(box, policy, tmp_path, n, p) for n, p in ports.items()}
    try:
        wait_for(lambda: exists(box, "chaos-marker"), timeout=60, what="the leader's change")
        leader = holder(cluster)
        (standby,) = [n for n in ports if n != leader]
        wait_for(lambda: leader_gauge(ports[standby]) == 0.0, timeout=20, what="standby /metrics")
        processes[standby].send_signal(signal.SIGTERM)
        assert processes[standby].wait(timeout=10) == 128 + signal.SIGTERM
        assert holder(cluster) == leader and exists(box, "chaos-marker")
        assert processes[leader].poll() is None
        log = (tmp_path / f"{standby}.log").read_text()
        assert "became the leader" not in log and "released" not in log
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
    assert not exists(box, "chaos-marker")

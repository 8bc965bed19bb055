"""The machine's kubectl against the sandbox, as a user runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.sandbox import Sandbox
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def kubectl(box: Sandbox, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    command = ["kubectl", "--kubeconfig", str(box.kubeconfig_path), *args]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_get_nodes_and_pods(sandbox: Sandbox) -> None:
    nodes = kubectl(sandbox, "get", "nodes", "-o", "name")
    assert nodes.returncode == 0, nodes.stderr
    assert len(nodes.stdout.split()) == 8
    pods = kubectl(sandbox, "get", "pods", "-n", "myapp", "-l", "app=my-service", "-o", "name")
    assert len(pods.stdout.split()) == 3


def test_apply_rollout_scale_wait_logs_delete(sandbox: Sandbox, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yml"
    manifest.write_text(MANIFEST)
    applied = kubectl(sandbox, "apply", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/web created" in applied.stdout
    again = kubectl(sandbox, "apply", "-f", str(manifest))
    assert "deployment.apps/web unchanged" in again.stdout, again.stderr
    rollout = kubectl(sandbox, "rollout", "status", "deployment/web", "--timeout=30s")
    assert rollout.returncode == 0, rollout.stderr
    assert "successfully rolled out" in rollout.stdout
    scaled = kubectl(sandbox, "scale", "deployment/web", "--replicas=4")
    assert scaled.returncode == 0, scaled.stderr
    waited = kubectl(
        sandbox, "wait", "--for=condition=Available", "deployment/web", "--timeout=30s"
    )
    assert waited.returncode == 0, waited.stderr
    pods = kubectl(
        sandbox, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"
    )
    assert pods.stdout.split() == ["Running"] * 4
    logs = kubectl(sandbox, "logs", "deployment/web")
    assert logs.returncode == 0 and "started" in logs.stdout
    described = kubectl(sandbox, "describe", "deployment", "web")
    assert "Replicas:" in described.stdout
    deleted = kubectl(sandbox, "delete", "-f", str(manifest))
    assert deleted.returncode == 0, deleted.stderr
    gone = kubectl(sandbox, "get", "deployment", "web")
    assert gone.returncode == 1 and "NotFound" in gone.stderr


def test_apply_from_stdin_and_a_changed_template_rolls_out(sandbox: Sandbox) -> None:
    assert kubectl(sandbox, "apply", "-f", "-", stdin=MANIFEST).returncode == 0
    changed = MANIFEST.replace("nginx:1.27", "nginx:1.28")
    assert kubectl(sandbox, "apply", "-f", "-", stdin=changed).returncode == 0
    rollout = kubectl(sandbox, "rollout", "status", "deployment/web", "--timeout=30s")
    assert rollout.returncode == 0, rollout.stderr
    images = kubectl(
        sandbox,
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].spec.containers[0].image}",
    )
    assert set(images.stdout.split()) == {"nginx:1.28"}


def test_get_prints_the_usual_columns(sandbox: Sandbox) -> None:
    pods = kubectl(sandbox, "get", "pods", "-n", "myapp", "-o", "wide")
    assert pods.returncode == 0, pods.stderr
    header, *rows = pods.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert len(rows) == 3 and all(row.split()[1:3] == ["1/1", "Running"] for row in rows)
    nodes = kubectl(sandbox, "get", "nodes")
    assert nodes.stdout.splitlines()[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes.stdout.count(" Ready ") == 8
    assert nodes.stdout.count("control-plane") == 3
    endpoints = kubectl(sandbox, "get", "endpoints", "goldpinger")
    header, row = endpoints.stdout.splitlines()
    assert header.split() == ["NAME", "ENDPOINTS", "AGE"]
    assert row.split()[1].count(":8080") == 3
    namespaces = kubectl(sandbox, "get", "namespaces")
    assert namespaces.stdout.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    assert re.search(r"^myapp\s+Active\s", namespaces.stdout, re.M), namespaces.stdout
    budget = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: gp, namespace: default}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: goldpinger}}
"""
    assert kubectl(sandbox, "apply", "-f", "-", stdin=budget).returncode == 0
    budgets = kubectl(sandbox, "get", "pdb", "gp")
    assert budgets.stdout.splitlines()[0].split()[:4] == ["NAME", "MIN", "AVAILABLE", "MAX"]
    assert budgets.stdout.splitlines()[1].split()[:3] == ["gp", "2", "N/A"]
    wait_for(
        lambda: (
            kubectl(sandbox, "get", "pdb", "gp").stdout.splitlines()[1].split()[:4]
            == ["gp", "2", "N/A", "1"]
        ),
        what="the budget to allow one disruption",
    )


def test_get_watch_prints_columns_as_things_change(sandbox: Sandbox, tmp_path: Path) -> None:
    victim = kubectl(sandbox, "get", "pods", "-n", "myapp", "-o", "name").stdout.split()[0]
    output = tmp_path / "watch.out"
    with output.open("w") as sink:
        watcher = subprocess.Popen(
            [
                "kubectl",
                "--kubeconfig",
                str(sandbox.kubeconfig_path),
                "get",
                "pods",
                "-n",
                "myapp",
                "--watch",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            name = victim.split("/", 1)[1]
            # The listing printed first tells the watch has its starting point.
            wait_for(lambda: name in output.read_text(), what="kubectl's first listing")
            assert kubectl(sandbox, "delete", "-n", "myapp", victim, "--wait=false").returncode == 0

            def seen() -> bool:
                text = output.read_text()
                return bool(
                    re.search(rf"^{name}\s+\d/\d\s+Terminating\s", text, re.M)
                    and re.search(r"^my-service-\S+\s+0/1\s+Pending\s", text, re.M)
                )

            wait_for(seen, what="the watch to show the pod terminating and its replacement")
        finally:
            watcher.kill()
            watcher.wait(timeout=30)


def test_delete_namespace_waits_until_it_is_empty_and_gone(sandbox: Sandbox) -> None:
    deleted = kubectl(sandbox, "delete", "namespace", "myapp", "--timeout=60s")
    assert deleted.returncode == 0, deleted.stderr
    gone = kubectl(sandbox, "get", "namespace", "myapp")
    assert gone.returncode == 1 and "NotFound" in gone.stderr
    assert kubectl(sandbox, "get", "pods", "-n", "myapp", "-o", "name").stdout == ""


def test_get_sorts_by_a_field_of_the_whole_object(sandbox: Sandbox) -> None:
    listed = kubectl(sandbox, "get", "pods", "-A", "--sort-by=.status.startTime", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    columns = kubectl(sandbox, "get", "pods", "-A", "--sort-by=.status.startTime")
    assert columns.stdout.splitlines()[0].split()[:3] == ["NAMESPACE", "NAME", "READY"]
    started = kubectl(
        sandbox,
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.startTime}{'\\n'}{end}",
    )
    times = dict(line.split() for line in started.stdout.splitlines())
    assert len(times) == 6 and len(set(times.values())) == 3  # preset pods start in turn
    names = [line.split("/", 1)[1] for line in listed.stdout.split()]
    assert [times[n] for n in names] == sorted(times.values())
    newest_first = kubectl(
        sandbox, "get", "pods", "-n", "myapp", "--sort-by=.metadata.creationTimestamp"
    )
    assert newest_first.returncode == 0, newest_first.stderr


def test_preset_pods_have_the_events_of_their_start(sandbox: Sandbox) -> None:
    pod = kubectl(sandbox, "get", "pods", "-n", "myapp", "-o", "name").stdout.split()[0]
    name = pod.split("/", 1)[1]
    events = kubectl(
        sandbox,
        "get",
        "events",
        "-n",
        "myapp",
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "jsonpath={range .items[*]}{.reason} {.source.component}{'\\n'}{end}",
    )
    assert events.returncode == 0, events.stderr
    assert events.stdout.splitlines() == [
        "Scheduled default-scheduler",
        "Pulled kubelet",
        "Created kubelet",
        "Started kubelet",
    ]
    described = kubectl(sandbox, "describe", "-n", "myapp", pod)
    assert re.search(r"Normal\s+Started\s+\S+\s+kubelet\s+Started container", described.stdout)
    assert re.search(r"Start Time:\s+\w{3}, \d+", described.stdout), described.stdout

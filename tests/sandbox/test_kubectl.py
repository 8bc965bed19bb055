"""The machine's kubectl against the sandbox, as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from seal.sandbox.sandbox import Sandbox

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

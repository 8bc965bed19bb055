"""seal in the cluster, end to end in the sandbox: `kubectl apply -k` of deploy/ (through a
test overlay) brings up two seal pods run as real processes (`seal sandbox --run-image`);
one becomes leader and runs the policy with the RBAC it was given; the leader's pod is
deleted in the middle of a scenario that applied a ConfigMap, the other pod takes over
within the lease duration and replays the journal; a real Prometheus scrapes both pods
with the PrometheusRule's rules loaded, and a real Alertmanager delivers
SealScenarioFailed to a webhook receiver run by the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.autonomous.helpers import free_port
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]
SEAL = Path(sys.executable).with_name("seal")
LEASE = {"duration": 4.0, "renew": 3.0, "retry": 0.5}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the pods' volumes need a mount namespace"),
    pytest.mark.skipif(
        not (shutil.which("prometheus") and shutil.which("prometheus-alertmanager")),
        reason="prometheus and prometheus-alertmanager are installed by scripts/setup",
    ),
]

MARKER = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: chaos-marker, namespace: default}
data: {held-by: seal}
"""
POLICY = {
    "config": {"runStrategy": {"minSecondsBetweenRuns": 1, "maxSecondsBetweenRuns": 1}},
    "scenarios": [
        {
            "name": "hold a marker",
            "steps": [
                {"kubectl": {"action": "apply", "payload": MARKER}},
                {"wait": {"seconds": 20}},
            ],
        },
        {
            "name": "probe a missing service",
            "steps": [
                {"probeHTTP": {"target": {"service": {
                    "name": "no-such-service", "namespace": "default", "port": 80}}}}
            ],
        },
    ],
}  # fmt: skip


def overlay(directory: Path, policy: Path) -> None:
    """The test's overlay of deploy/: the image run from this checkout's seal, metrics on
    the pod's own address, short lease timings, the test's policy and exactly the RBAC
    `seal rbac` computes for it."""
    directory.mkdir()
    (directory / "policy.yml").write_text(policy.read_text())
    rbac = subprocess.run(
        [str(SEAL), "rbac", "--policy-file", str(policy), "--service-account", "seal/seal",
         "--role-name", "seal", "--state-namespace", "seal"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    roles = {
        (d["kind"], d["metadata"]["name"]): d["rules"]
        for d in yaml.safe_load_all(rbac.stdout)
        if d and d["kind"] in ("ClusterRole", "Role")
    }
    env = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "SEAL_LEADER_ELECT_LEASE_DURATION", "value": str(LEASE["duration"])},
        {"name": "SEAL_LEADER_ELECT_RENEW_DEADLINE", "value": str(LEASE["renew"])},
        {"name": "SEAL_LEADER_ELECT_RETRY_PERIOD", "value": str(LEASE["retry"])},
    ]
    container = "/spec/template/spec/containers/0"
    operations: list[dict[str, Any]] = [
        {"op": "replace", "path": f"{container}/args", "value": [
            "autonomous", "--policy-file=/etc/seal/policy.yml",
            "--metrics-address=$(POD_IP):9090"]},
        *({"op": "add", "path": f"{container}/env/-", "value": v} for v in env),
        {"op": "replace", "path": "/spec/template/spec/terminationGracePeriodSeconds",
         "value": 30},
    ]  # fmt: skip
    patches = [{"target": {"kind": "Deployment", "name": "seal"}, "patch": json.dumps(operations)}]
    for (kind, name), rules in roles.items():
        patch = [{"op": "replace", "path": "/rules", "value": rules}]
        patches.append({"target": {"kind": kind, "name": name}, "patch": json.dumps(patch)})
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(REPO / "deploy", directory)],
        "patches": patches,
        "configMapGenerator": [
            {"name": "seal-policy", "behavior": "replace", "files": ["policy.yml"]}
        ],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))


class Receiver(BaseHTTPRequestHandler):
    """Alertmanager's webhook: every notification it posts."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Processes:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop()


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


def test_the_deploy_manifests_run_two_seal_pods_with_failover_and_alerting(
    tmp_path: Path, processes: Processes
) -> None:
    kubeconfig = tmp_path / "kubeconfig"

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    # alerting first: a webhook receiver, Alertmanager, Prometheus with the PrometheusRule's
    # rules and a file of scrape targets filled in once the pods have addresses
    webhook = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    am_port, prom_port = free_port(), free_port()
    (tmp_path / "am.yml").write_text(yaml.safe_dump({
        "route": {"receiver": "test", "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "test", "webhook_configs": [
            {"url": f"http://127.0.0.1:{webhook.server_port}/", "send_resolved": False}]}],
    }))  # fmt: skip
    processes.start(
        "alertmanager", shutil.which("prometheus-alertmanager") or "alertmanager",
        f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
    )  # fmt: skip
    rule = yaml.safe_load(
        (REPO / "deploy/components/prometheus-operator/prometheusrule.yml").read_text()
    )
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    (tmp_path / "targets.json").write_text("[]")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "seal", "file_sd_configs": [
            {"files": [str(tmp_path / "targets.json")], "refresh_interval": "1s"}]}],
    }))  # fmt: skip
    processes.start(
        "prometheus", "prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
    )  # fmt: skip
    prometheus = f"http://127.0.0.1:{prom_port}/api/v1"
    wait_for(lambda: get_json(f"{prometheus}/status/runtimeinfo"), timeout=60, what="Prometheus")
    wait_for(lambda: get_json(f"http://127.0.0.1:{am_port}/api/v2/status"), timeout=60,
             what="Alertmanager")  # fmt: skip

    # the cluster, whose kubelet runs seal's image as this checkout's seal
    processes.start(
        "sandbox", str(SEAL), "sandbox", "--kubeconfig-out", str(kubeconfig),
        "--run-image", f"ghcr.io/seal-chaos/seal:*={SEAL}",
    )  # fmt: skip
    wait_for(kubeconfig.exists, timeout=60, what="the sandbox's kubeconfig")
    policy = tmp_path / "test-policy.yml"
    policy.write_text(yaml.safe_dump(POLICY, sort_keys=False))
    overlay(tmp_path / "overlay", policy)
    kubectl("apply", "-k", str(tmp_path / "overlay"))

    def pods() -> dict[str, dict[str, Any]]:
        found = json.loads(kubectl("get", "pods", "-n", "seal", "-o", "json"))["items"]
        return {
            p["metadata"]["name"]: p for p in found if not p["metadata"].get("deletionTimestamp")
        }

    def ready_pods() -> dict[str, str] | None:
        ready = {
            name: p["status"]["podIP"]
            for name, p in pods().items()
            if any(c["type"] == "Ready" and c["status"] == "True"
                   for c in p["status"].get("conditions", []))
        }  # fmt: skip
        return ready if len(ready) == 2 else None

    try:
        first = wait_for(ready_pods, timeout=120, interval=0.5, what="two Ready seal pods")
    except BaseException:
        for name in pods():  # what the pods say, for whoever reads the failure
            print(kubectl("get", "pod", name, "-n", "seal", "-o", "json"))
            print(subprocess.run(
                ["kubectl", "--kubeconfig", str(kubeconfig), "logs", name, "-n", "seal"],
                capture_output=True, text=True, timeout=60, check=False,
            ).stdout[-5000:])  # fmt: skip
        raise
    (tmp_path / "targets.json").write_text(
        json.dumps([{"targets": [f"{ip}:9090" for ip in first.values()]}])
    )

    def holder() -> str:
        lease = json.loads(kubectl("get", "lease", "seal-leader", "-n", "seal", "-o", "json"))
        return str(lease["spec"].get("holderIdentity") or "")

    leader = wait_for(lambda: holder() in first and holder(), timeout=60, what="a leader")
    [standby] = [name for name in first if name != leader]
    for ip in first.values():  # both pods' probes are healthy
        status = urllib.request.urlopen(f"http://{ip}:9090/healthz", timeout=5).status
        assert status == 200

    def marker_uid() -> str | None:
        found = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "configmap", "chaos-marker",
             "-n", "default", "-o", "jsonpath={.metadata.uid}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return found.stdout.strip() if found.returncode == 0 and found.stdout.strip() else None

    applied = wait_for(marker_uid, timeout=60, interval=0.2, what="the leader's ConfigMap")

    # the leader's pod is deleted mid-scenario (at once: it gets no time to undo)
    deleted_at = time.monotonic()
    kubectl("delete", "pod", leader, "-n", "seal", "--grace-period=0", "--force")
    wait_for(lambda: holder() == standby, timeout=30, interval=0.2, what="the standby leading")
    took_over = time.monotonic() - deleted_at
    assert took_over < LEASE["duration"] + 5, took_over
    # the new leader replayed the journal: the ConfigMap it found was deleted, and the
    # scenario it runs again applied a new one
    wait_for(lambda: marker_uid() != applied, timeout=60, interval=0.1, what="the marker undone")
    standby_log = kubectl("logs", standby, "-n", "seal")
    assert "an earlier run left 1 undo(s) pending" in standby_log, standby_log[-3000:]

    # Prometheus scrapes both pods; the failing scenario reaches the webhook through
    # the PrometheusRule's SealScenarioFailed and Alertmanager
    def scraped() -> set[str]:
        found = get_json(f"{prometheus}/query?" + urllib.parse.urlencode({"query": "up"}))
        results = (found or {}).get("data", {}).get("result", [])
        return {r["metric"]["instance"] for r in results}

    wait_for(lambda: scraped() == {f"{ip}:9090" for ip in first.values()}, timeout=60,
             what="both pods scraped")  # fmt: skip

    def delivered() -> list[dict[str, Any]]:
        return [
            alert for note in Receiver.received for alert in note["alerts"]
            if alert["labels"]["alertname"] == "SealScenarioFailed"
        ]  # fmt: skip

    [alert, *_] = wait_for(delivered, timeout=120, interval=0.5, what="SealScenarioFailed")
    assert alert["labels"]["name"] == "probe a missing service"
    assert alert["labels"]["job"] == "seal"
    leader_metrics = urllib.request.urlopen(f"http://{first[standby]}:9090/metrics", timeout=5)
    assert "seal_leader 1.0" in leader_metrics.read().decode()
    webhook.shutdown()

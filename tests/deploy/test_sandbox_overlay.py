"""The README's in-cluster steps against `seal sandbox`, as a new user runs them: the
shipped deploy/ (through deploy-sandbox/) with the shipped policy and RBAC brings up two
seal pods, one leads and runs the policy, the Lease shows the holder, the metrics say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]
SEAL = Path(sys.executable).with_name("seal")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the pods' volumes need a mount namespace"),
]


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[Path]:
    kubeconfig = tmp_path / "kc"
    log = (tmp_path / "sandbox.log").open("wb")
    process = subprocess.Popen(
        [str(SEAL), "sandbox", "--kubeconfig-out", str(kubeconfig),
         "--run-image", f"ghcr.io/seal-chaos/seal:*={SEAL}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )  # fmt: skip
    try:
        wait_for(kubeconfig.exists, timeout=60, what="the sandbox's kubeconfig")
        yield kubeconfig
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_readme_steps_run_seal_in_the_sandbox(sandbox_process: Path) -> None:
    def kubectl(*args: str) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(sandbox_process), *args],
            capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
        )  # fmt: skip
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    kubectl("apply", "-k", "deploy-sandbox/")

    def ready() -> dict[str, str] | None:
        items: list[dict[str, Any]] = json.loads(
            kubectl("-n", "seal", "get", "pods", "-o", "json")
        )["items"]
        found = {
            p["metadata"]["name"]: p["status"]["podIP"]
            for p in items
            if any(c["type"] == "Ready" and c["status"] == "True"
                   for c in p["status"].get("conditions", []))
        }  # fmt: skip
        return found if len(found) == 2 else None

    pods = wait_for(ready, timeout=120, interval=0.5, what="two Ready seal pods")
    holder = wait_for(
        lambda: kubectl("-n", "seal", "get", "lease", "seal-leader", "-o",
                        "jsonpath={.spec.holderIdentity}").strip(),
        timeout=60, what="a leader",
    )  # fmt: skip
    assert holder in pods
    assert "became the leader" in kubectl("-n", "seal", "logs", holder)

    def metrics(ip: str) -> str:
        with urllib.request.urlopen(f"http://{ip}:9090/metrics", timeout=5) as answer:
            text: str = answer.read().decode()
            return text

    passed = 'seal_scenario_runs_total{name="goldpinger survives losing a pod",result="passed"} 1.0'
    wait_for(lambda: passed in metrics(pods[holder]), timeout=120, interval=1,
             what="the shipped policy's first loop to pass")  # fmt: skip
    assert "seal_leader 1.0" in metrics(pods[holder])
    [standby] = [name for name in pods if name != holder]
    assert "seal_leader 0.0" in metrics(pods[standby])
    with urllib.request.urlopen(f"http://{pods[standby]}:9090/readyz", timeout=5) as answer:
        assert "role: standby" in answer.read().decode()

"""PowerfulSeal command lines and environment variables keep working with seal."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, write_policy
from tests.autonomous.test_label_mode import ALL_DAY, label_pod
from tests.autonomous.test_pods_e2e import KILL_HALF
from tests.conftest import wait_for


def environment(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SEAL_")}
    return {**kept, **extra}


def test_an_autonomous_command_line_of_powerfulseal(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, KILL_HALF.replace("count: 7", "count: 3"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "autonomous",
            "--inventory-kubernetes",
            "--no-cloud",
            "--headless",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=environment(POLICY_FILE=str(policy), STDOUT_COLLECTOR="true"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    kills = re.findall(r"seal-metric pod_killed namespace=default name=(\S+)", result.stdout)
    assert len(kills) == 1


def test_label_mode_with_powerfulseal_flags(sandbox: Sandbox, tmp_path: Path) -> None:
    victim = sorted(
        p["metadata"]["name"]
        for p in sandbox.call(lambda store: store.list("pods", "default"))
        if p["metadata"]["labels"].get("app") == "goldpinger"
    )[0]
    label_pod(sandbox, victim, {"seal/enabled": "true", "seal/force-kill": "true"}, ALL_DAY)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seal",
            "label",
            "--kubernetes-namespace",
            "default",
            "--inventory-kubernetes",
            "--no-cloud",
            "--prometheus-collector",
            "--prometheus-host",
            "127.0.0.1",
            "--prometheus-port",
            str(port),
            "--min-seconds-between-runs",
            "30",
            "--max-seconds-between-runs",
            "30",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                text = str(answer.read().decode())
        except OSError:
            return ""
        return text if "seal_pod_kills_total{" in text else ""

    try:
        text = wait_for(scrape, timeout=30, what="label mode's kill in the metrics")
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert f'name="{victim}",namespace="default",status="success"}} 1.0' in text


def test_powerfulseal_config_variable_names_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "seal.yml"
    config.write_text("policy-file: nowhere.yml\n")
    found = subprocess.run(
        [sys.executable, "-m", "seal", "validate"],
        env=environment(CONFIG=str(config)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert found.returncode == 2
    assert "nowhere.yml" in found.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "seal", "validate", "policies/pod-start-slo.yml"],
        env=environment(CONFIG=str(tmp_path / "absent.yml")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert missing.returncode == 2
    assert "absent.yml: cannot read config file" in missing.stderr
    assert "named by $CONFIG" in missing.stderr

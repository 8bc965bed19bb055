"""Child processes of seal (kubectl, exec credential plugins) die with it, however it dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from seal.adapters.kubeconfig import ClusterConnection, kubectl_config, resolve
from seal.adapters.private_files import private_file
from tests.autonomous.helpers import REPO
from tests.conftest import wait_for


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_exec_plugin_dies_when_seal_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "plugin.pid"
    plugin = tmp_path / "get-token"
    plugin.write_text(f'#!/bin/sh\necho $$ > "{pid_file}"\nexec sleep 60\n')
    plugin.chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "users": [{"name": "u", "user": {"exec": {"command": "./get-token"}}}],
            }
        )
    )
    seal = subprocess.Popen(
        [sys.executable, "-m", "seal", "cleanup", "--kubeconfig", str(kubeconfig)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The plugin's relative path is relative to the kubeconfig, not to seal's directory.
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=30)
        plugin_pid = int(pid_file.read_text())
        assert alive(plugin_pid)
        seal.send_signal(signal.SIGKILL)
        seal.wait(timeout=10)
    finally:
        if seal.poll() is None:
            seal.kill()
    wait_for(lambda: not alive(plugin_pid), timeout=3, what="the exec plugin to die with seal")


def test_kubectl_reaches_seals_cluster_through_the_kubeconfig_seal_makes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    connection = resolve(str(sandbox.kubeconfig_path))
    made = private_file(kubectl_config(connection), "kubeconfig")
    sandbox.kubeconfig_path.write_text("not a kubeconfig any more")
    try:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", made.path, "get", "namespace", "kube-system", "-o", "json"],
            capture_output=True,
            text=True,
            pass_fds=made.fds,
            timeout=60,
            check=False,
            env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        )
    finally:
        made.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metadata"]["name"] == "kube-system"


def test_the_kubeconfig_for_kubectl_carries_the_connection() -> None:
    config = json.loads(
        kubectl_config(
            ClusterConnection(
                server="https://10.0.0.1:6443",
                token_exec=json.dumps({"command": "/abs/get-token", "apiVersion": "v1"}),
                insecure=True,
                namespace="chaos",
                kubeconfig="/home/me/.kube/config",
            )
        )
    )
    assert config["clusters"][0]["cluster"] == {
        "server": "https://10.0.0.1:6443",
        "insecure-skip-tls-verify": True,
    }
    assert config["users"][0]["user"] == {"exec": {"command": "/abs/get-token", "apiVersion": "v1"}}
    assert config["contexts"][0]["context"]["namespace"] == "chaos"
    assert "/home/me/.kube/config" not in json.dumps(config)

"""`seal sandbox` as a user starts it: one ready line, kubectl works, signals stop it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seal", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_sandbox_runs_until_a_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = start("--kubeconfig-out", str(kubeconfig), "--seed", "4")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"sandbox ready: kubeconfig {kubeconfig} (API https://127.0.0.1:")
        nodes = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "nodes", "-o", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert nodes.returncode == 0, nodes.stderr
        assert len(nodes.stdout.split()) == 8
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bad_cluster_file_is_a_clear_error(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yml"
    cluster.write_text("nodes:\n- name: a\n  colour: blue\n")
    result = subprocess.run(
        [sys.executable, "-m", "seal", "sandbox", "--cluster", str(cluster)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert f"{cluster}: nodes[0]: unknown key(s) colour" in result.stderr
    assert "Traceback" not in result.stderr


def test_cluster_file_describes_the_cluster(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yml"
    cluster.write_text(
        "namespaces: [shop]\n"
        "nodes:\n- {name: small, count: 2, zones: [Z1], labels: {tier: edge}}\n"
        "deployments:\n- {name: cart, namespace: shop, replicas: 2, port: 9000}\n"
        "services:\n- {name: cart, namespace: shop, selector: {app: cart}, ports: [9000]}\n"
    )
    kubeconfig = tmp_path / "kubeconfig"
    process = start("--cluster", str(cluster), "--kubeconfig-out", str(kubeconfig))
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("sandbox ready")
        pods = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "get",
                "pods",
                "-n",
                "shop",
                "-o",
                "jsonpath={.items[*].spec.nodeName}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sorted(pods.stdout.split()) == ["small-0", "small-1"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_fault_flags_and_a_chosen_port(tmp_path: Path) -> None:
    import base64
    import json
    import socket
    import ssl
    import time
    import urllib.error
    import urllib.request

    import yaml

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    process = start(
        "--preset",
        "large",
        "--nodes",
        "20",
        "--pods",
        "100",
        "--port",
        str(port),
        "--kubeconfig-out",
        str(kubeconfig),
        "--api-error-rate",
        "0.5",
        "--api-latency-ms",
        "200",
    )
    try:
        assert process.stdout is not None
        assert f"(API https://127.0.0.1:{port})" in process.stdout.readline()
        config = yaml.safe_load(kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
        context = ssl.create_default_context(cadata=ca.decode())
        outcomes: list[object] = []
        for _ in range(30):
            request = urllib.request.Request(
                f"https://127.0.0.1:{port}/api/v1/nodes",
                headers={"Authorization": f"Bearer {token}"},
            )
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                    outcomes.append(len(json.loads(answer.read())["items"]))
            except urllib.error.HTTPError as exc:
                outcomes.append(exc.code)
            except (urllib.error.URLError, ConnectionError):
                outcomes.append("dropped")
            else:
                # A slow API is slow on every answer that is not a fault.
                assert time.monotonic() - started >= 0.2
        assert 20 in outcomes, outcomes
        assert {500, 429, "dropped"} & set(outcomes), outcomes
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_port_in_use_is_a_usage_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "seal", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"seal: error: --port {port}: 127.0.0.1:{port} is already in use; "
        "choose another, or 0 for a free one"
    ]
    assert result.stdout == ""

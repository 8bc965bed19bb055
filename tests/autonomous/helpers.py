"""Running seal as a user does, against a sandbox started by the test."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from sandbox.sandbox import Sandbox
from sandbox.store import Store

REPO = Path(__file__).resolve().parents[2]
QUICK = """\
config:
  runStrategy: {runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}
  exitStrategy: {strategy: fail-fast}
"""


def write_policy(tmp_path: Path, body: str, name: str = "policy.yml") -> Path:
    path = tmp_path / name
    path.write_text(QUICK + textwrap.dedent(body))
    return path


def seal_command(box: Sandbox, policy: Path, state: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "seal",
        "autonomous",
        "--kubeconfig",
        str(box.kubeconfig_path),
        "--policy-file",
        str(policy),
        "--state-dir",
        str(state),
        "--seed",
        "7",
        *extra,
    ]


def run_seal(
    box: Sandbox, policy: Path, state: Path, *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        seal_command(box, policy, state, *extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


def seal(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`seal ARGS...` run from the repository as a user would, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "seal", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


def start(box: Sandbox, policy: Path, state: Path, *extra: str) -> subprocess.Popen[str]:
    """seal in the background, as a user would start it."""
    return subprocess.Popen(
        seal_command(box, policy, state, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def pods(box: Sandbox, namespace: str, selector: str) -> list[dict[str, Any]]:
    return box.call(lambda store: store.list("pods", namespace, label_selector=selector))


def live_pod_names(box: Sandbox, namespace: str, selector: str) -> set[str]:
    return {
        p["metadata"]["name"]
        for p in pods(box, namespace, selector)
        if not p["metadata"].get("deletionTimestamp")
    }


def seal_events(box: Sandbox) -> list[dict[str, Any]]:
    return box.call(
        lambda store: [e for e in store.list("events") if e.get("reason") == "SealChaos"]
    )


def scale(box: Sandbox, namespace: str, name: str, replicas: int) -> None:
    def change(store: Store) -> None:
        store.mutate(
            "deployments", namespace, name, lambda d: d["spec"].__setitem__("replicas", replicas)
        )

    box.call(change)


def ready_replicas(box: Sandbox, namespace: str, name: str) -> int:
    deployment = box.call(lambda store: store.get("deployments", namespace, name))
    return int(deployment.get("status", {}).get("readyReplicas", 0))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

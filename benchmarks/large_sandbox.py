"""`seal sandbox --preset large` in its own process, as a user starts it, for benchmarks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def large_sandbox(nodes: int, pods: int, kubeconfig: Path) -> Iterator[subprocess.Popen[str]]:
    """Start it, wait for its ready line, and stop it afterwards."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seal",
            "sandbox",
            "--preset",
            "large",
            "--nodes",
            str(nodes),
            "--pods",
            str(pods),
            "--kubeconfig-out",
            str(kubeconfig),
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if not process.stdout.readline().startswith("sandbox ready"):
            raise SystemExit("the sandbox did not start")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)

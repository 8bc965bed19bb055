"""Fixtures of the executor tests: a real sshd on loopback, and one inside a network
namespace the test creates (deleted afterwards)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.executors.sshd import (
    SSHD,
    Namespace,
    Sshd,
    netns_available,
    network_namespace,
    start_sshd,
    stop_sshd,
)


def _require_sshd() -> None:
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} is missing (scripts/setup installs Debian's openssh-server)")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    _require_sshd()
    server = start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        stop_sshd(server)


@pytest.fixture
def netns_sshd(tmp_path: Path) -> Iterator[tuple[Namespace, Sshd]]:
    _require_sshd()
    reason = netns_available() or _netns_allowed()
    if reason:
        pytest.skip(reason)
    with network_namespace() as ns:
        server = start_sshd(tmp_path / "sshd", host=ns.node_ip, port=22, netns=ns.name)
        try:
            yield ns, server
        finally:
            stop_sshd(server)


def _netns_allowed() -> str | None:
    """None, or why this machine does not let even root create a network namespace."""
    probe = subprocess.run(
        ["unshare", "--net", "true"], capture_output=True, text=True, check=False
    )
    return None if probe.returncode == 0 else f"cannot create network namespaces: {probe.stderr}"

"""CA certificates, client keys and kubectl's kubeconfig are kept off the disk."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from seal.adapters.private_files import private_file
from tests.autonomous.helpers import REPO, write_policy
from tests.autonomous.test_crash_safety import marker_exists
from tests.conftest import wait_for


def test_a_private_file_lives_in_memory_only_this_user_can_read(tmp_path: Path) -> None:
    secret = private_file(b"-----BEGIN PRIVATE KEY-----\nabc\n", "key")
    try:
        assert secret.path.startswith("/proc/self/fd/") and secret.fds
        assert Path(secret.path).read_bytes() == b"-----BEGIN PRIVATE KEY-----\nabc\n"
        assert stat.S_IMODE(os.fstat(secret.fds[0]).st_mode) == 0o600
        assert os.readlink(secret.path).startswith("/memfd:seal-key")
        # A child given the descriptor reads it at the same path.
        child = subprocess.run(
            ["cat", secret.path], capture_output=True, pass_fds=secret.fds, check=True
        )
        assert child.stdout.startswith(b"-----BEGIN PRIVATE KEY-----")
    finally:
        secret.close()
    assert not Path(secret.path).exists() or os.readlink(secret.path) != "/memfd:seal-key"


CHAOS = """\
scenarios:
- name: apply then wait
  steps:
  - kubectl:
      action: apply
      payload: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: chaos-marker, namespace: default}
  - wait: {seconds: 2}
"""


def open_files(pid: int) -> list[str]:
    found = []
    for fd in (Path("/proc") / str(pid) / "fd").iterdir():
        try:
            found.append(os.readlink(fd))
        except OSError:
            continue
    return found


def test_no_ca_or_key_file_is_written_during_or_left_after_a_run(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    def data(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    # A kubeconfig with a CA, a client certificate and a client key given as data.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        sandbox.kubeconfig_path.read_text().replace(
            f"    token: {sandbox.token}\n",
            f"    token: {sandbox.token}\n"
            f"    client-certificate-data: {data(sandbox.tls.cert_path)}\n"
            f"    client-key-data: {data(sandbox.tls.key_path)}\n",
        )
    )
    assert "client-key-data" in kubeconfig.read_text()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    command = [sys.executable, "-m", "seal", "autonomous", "--kubeconfig", str(kubeconfig)]
    command += ["--policy-file", str(write_policy(tmp_path, CHAOS))]
    command += ["--state-dir", str(tmp_path / "state")]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    try:
        wait_for(lambda: marker_exists(sandbox) or process.poll() is not None, timeout=30)
        during = list(temporary.iterdir())
        held = open_files(process.pid)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert during == [] and list(temporary.iterdir()) == []
    memory = {name.split()[0] for name in held if name.startswith("/memfd:")}
    assert {"/memfd:seal-ca", "/memfd:seal-cert", "/memfd:seal-key"} <= memory
    assert "/memfd:seal-kubeconfig" in memory
    assert not marker_exists(sandbox)

"""Undos are bound to the cluster they were recorded on, whatever URL or kubeconfig path
reaches it later; kubectl runs through seal's own connection, never the user's kubeconfig."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from seal.runtime.journal import journal_name
from tests.autonomous.helpers import REPO, start, write_policy
from tests.autonomous.test_crash_safety import SLOW, journal_lines, marker_exists
from tests.conftest import SandboxFactory, wait_for


def cleanup(kubeconfig: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "seal", "cleanup", "--kubeconfig", str(kubeconfig)]
    command += ["--state-dir", str(state), *extra]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )


def kube_system_uid(box: Sandbox) -> str:
    namespace = box.call(lambda store: store.peek("namespaces", "", "kube-system"))
    assert namespace is not None
    return str(namespace["metadata"]["uid"])


def add_marker(box: Sandbox) -> None:
    marker = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "chaos-marker", "namespace": "default"},
        "data": {"owner": "not seal"},
    }
    box.call(lambda store: store.create("configmaps", marker))


def crash_after_apply(box: Sandbox, kubeconfig: Path, tmp_path: Path, state: Path) -> None:
    """Run the slow policy through `kubeconfig`, SIGKILL seal once it applied its marker."""
    command = [sys.executable, "-m", "seal", "autonomous", "--kubeconfig", str(kubeconfig)]
    command += ["--policy-file", str(write_policy(tmp_path, SLOW)), "--state-dir", str(state)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        wait_for(lambda: marker_exists(box) or process.poll() is not None, what="the apply")
    finally:
        process.kill()
        _, err = process.communicate(timeout=30)
    assert marker_exists(box), err


def test_the_same_cluster_by_another_url_finds_its_journal(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    crash_after_apply(sandbox, sandbox.kubeconfig_path, tmp_path, state)
    other_url = tmp_path / "localhost.kubeconfig"
    other_url.write_text(
        sandbox.kubeconfig_path.read_text().replace("https://127.0.0.1:", "https://localhost:")
    )
    assert "https://localhost:" in other_url.read_text()
    result = cleanup(other_url, state)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 undo(s) carried out, 0 left"
    assert not marker_exists(sandbox)


def test_a_kubeconfig_now_pointing_elsewhere_changes_nothing_there(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    first, second = sandbox_factory(), sandbox_factory()
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(first.kubeconfig_path, kubeconfig)
    state = tmp_path / "state"
    crash_after_apply(first, kubeconfig, tmp_path, state)
    add_marker(second)
    shutil.copy(second.kubeconfig_path, kubeconfig)  # the same path, another cluster now
    result = cleanup(kubeconfig, state)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 undo(s) carried out, 0 left"
    first_journal = state / journal_name(kube_system_uid(first))
    assert f"{first_journal}: 1 undo(s) pending for another cluster" in result.stderr
    assert first.url in result.stderr and kube_system_uid(first) in result.stderr
    assert marker_exists(second), "an undo recorded on one cluster ran on another"
    assert marker_exists(first)
    back = cleanup(first.kubeconfig_path, state)
    assert back.stdout.strip() == "1 undo(s) carried out, 0 left", back.stderr
    assert not marker_exists(first) and marker_exists(second)


def test_an_undo_recorded_on_another_cluster_is_refused_and_kept(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    first, second = sandbox_factory(), sandbox_factory()
    state = tmp_path / "state"
    crash_after_apply(first, first.kubeconfig_path, tmp_path, state)
    # The journal is found under the second cluster's name (copied, restored, renamed...).
    (state / journal_name(kube_system_uid(first))).rename(
        state / journal_name(kube_system_uid(second))
    )
    add_marker(second)
    result = cleanup(second.kubeconfig_path, state)
    assert result.returncode == 1
    assert "0 undo(s) carried out, 1 left" in result.stdout
    assert "refused, kept in the journal: it was recorded on" in result.stderr
    assert f"kube-system uid {kube_system_uid(second)}, not {kube_system_uid(first)}" in (
        result.stderr
    )
    assert "CA sha256:" in result.stderr
    assert marker_exists(second) and marker_exists(first)
    assert [r["kind"] for r in journal_lines(state) if r["op"] == "record"] == ["kubectl-delete"]
    assert not [r for r in journal_lines(state) if r["op"] == "done"]


def test_kubectl_undoes_through_seals_connection_not_the_kubeconfig_path(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    first, second = sandbox_factory(), sandbox_factory()
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(first.kubeconfig_path, kubeconfig)
    state = tmp_path / "state"
    policy = write_policy(tmp_path, SLOW)
    process = start(first, policy, state, "--kubeconfig", str(kubeconfig))
    try:
        wait_for(lambda: marker_exists(first), what="the applied ConfigMap")
        add_marker(second)
        shutil.copy(second.kubeconfig_path, kubeconfig)  # repointed while seal runs
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 128 + signal.SIGTERM
    assert not marker_exists(first), "the undo did not reach the cluster seal was running on"
    assert marker_exists(second), "the undo followed the kubeconfig path to another cluster"

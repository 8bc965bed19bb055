"""`seal cleanup`: reaches the cluster or fails, lists and discards pending undos, and names
what each undo acts on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, free_port, write_policy
from tests.autonomous.test_cleanup_identity import cleanup, crash_after_apply
from tests.autonomous.test_crash_safety import SLOW, marker_exists


def seal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seal", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def test_an_unreachable_cluster_fails_with_exit_3_and_undoes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    crash_after_apply(sandbox, sandbox.kubeconfig_path, tmp_path, state)
    gone = tmp_path / "gone.kubeconfig"
    port = sandbox.url.rsplit(":", 1)[1]
    gone.write_text(sandbox.kubeconfig_path.read_text().replace(port, str(free_port())))
    result = cleanup(gone, state)
    assert result.returncode == 3, result.stderr
    assert "undo(s) carried out" not in result.stdout
    assert "seal: error: cannot talk to the cluster at https://127.0.0.1:" in result.stderr
    assert "nothing was changed or undone" in result.stderr
    assert "Traceback" not in result.stderr
    listed = seal("cleanup", "--list", "--state-dir", str(state))
    assert "1 pending undo(s)" in listed.stdout


def test_list_shows_pending_undos_and_discard_drops_one(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    crash_after_apply(sandbox, sandbox.kubeconfig_path, tmp_path, state)
    policy = write_policy(tmp_path, SLOW)  # the file crash_after_apply ran
    # No cluster is needed to see what is pending.
    listed = seal("cleanup", "--list", "--state-dir", str(state))
    assert listed.returncode == 0, listed.stderr
    header, columns, row = listed.stdout.splitlines()
    assert "1 pending undo(s) for https://127.0.0.1:" in header
    assert columns.split() == ["ID", "AGE", "POLICY", "SCENARIO", "UNDO"]
    found = re.match(r"  ([0-9a-f]{12})  +(\d+s|\d+m \d+s)  +(\S+)  +apply then wait  +(.*)$", row)
    assert found, row
    assert found.group(3) == str(policy.resolve())
    assert found.group(4) == "kubectl delete of ConfigMap default/chaos-marker applied at line 8"

    unknown = seal("cleanup", "--discard", "ffffffffffff", "--state-dir", str(state))
    assert unknown.returncode == 2
    assert "no pending undo with id 'ffffffffffff'" in unknown.stderr

    dropped = seal("cleanup", "--discard", found.group(1)[:6], "--state-dir", str(state))
    assert dropped.returncode == 0, dropped.stderr
    assert "discarded on request, not carried out: undo " + found.group(1) in dropped.stderr
    assert "ConfigMap default/chaos-marker" in dropped.stderr
    assert seal("cleanup", "--list", "--state-dir", str(state)).stdout.strip() == (
        f"no pending undos in {state}"
    )
    after = cleanup(sandbox.kubeconfig_path, state)
    assert after.stdout.strip() == "0 undo(s) carried out, 0 left"
    assert marker_exists(sandbox), "a discarded undo was carried out"


def test_undo_log_lines_name_the_object_and_the_policy_file(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    crash_after_apply(sandbox, sandbox.kubeconfig_path, tmp_path, state)
    policy = (tmp_path / "policy.yml").resolve()
    result = cleanup(sandbox.kubeconfig_path, state)
    assert result.returncode == 0, result.stderr
    assert (
        "undone: kubectl delete of ConfigMap default/chaos-marker applied at line 8 "
        f"(policy {policy}, scenario apply then wait)"
    ) in result.stderr
    assert not marker_exists(sandbox)

"""--state-backend, --state-namespace and --leader-elect: what `auto` means in and out of a
pod, precise usage errors, and `seal cleanup` on the journal kept in the cluster."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from seal.adapters.identity import identify
from seal.errors import UsageError
from seal.runtime.journal import UndoJournal
from seal.runtime.journal_configmap import ConfigMapStore, configmap_name
from seal.runtime.state import Election, StateOptions, resolve_state
from tests.autonomous.helpers import REPO, seal, seal_command, write_policy
from tests.cluster_state.conftest import NAMESPACE, Cluster
from tests.conftest import wait_for


def test_auto_is_the_file_outside_a_pod(tmp_path: Path) -> None:
    state = resolve_state(StateOptions(), {}, tmp_path / "no-service-account")
    assert (state.backend, state.election) == ("file", None)


def test_auto_is_the_cluster_in_a_pod_with_election_on(tmp_path: Path) -> None:
    by_downward_api = resolve_state(StateOptions(), {"POD_NAMESPACE": "chaos"}, tmp_path)
    assert (by_downward_api.backend, by_downward_api.namespace) == ("kubernetes", "chaos")
    assert by_downward_api.election == Election()
    account = tmp_path / "sa"
    account.mkdir()
    (account / "namespace").write_text("seal-ns\n")
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    by_account = resolve_state(StateOptions(), environ, account)
    assert (by_account.backend, by_account.namespace) == ("kubernetes", "seal-ns")
    # the service host alone, without a service account, is not a pod
    assert resolve_state(StateOptions(), environ, tmp_path / "none").backend == "file"


def test_flags_win_over_auto(tmp_path: Path) -> None:
    environ = {"POD_NAMESPACE": "chaos"}
    off = resolve_state(StateOptions(leader_elect=False), environ, tmp_path)
    assert (off.backend, off.election) == ("kubernetes", None)
    on_file = resolve_state(
        StateOptions(backend="file", namespace="x", leader_elect=True), {}, tmp_path
    )
    assert (on_file.backend, on_file.namespace, on_file.election) == ("file", "x", Election())
    named = resolve_state(StateOptions(namespace="mine"), environ, tmp_path)
    assert named.namespace == "mine"


def test_the_cluster_backend_needs_a_namespace(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give --state-namespace"):
        resolve_state(StateOptions(backend="kubernetes"), {}, tmp_path)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--leader-elect-renew-deadline", "20"], "must be shorter than --leader-elect-lease"),
        (["--leader-elect-retry-period", "10"], "must be shorter than --leader-elect-renew"),
        (["--leader-elect-lease-duration", "0"], "--leader-elect-lease-duration"),
    ],
)
def test_durations_that_cannot_work_are_usage_errors(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    policy = write_policy(tmp_path, "scenarios: []\n")
    result = seal("autonomous", "--policy-file", str(policy), "--leader-elect", *flags)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


SLOW = """\
scenarios:
- name: apply then wait
  steps:
  - kubectl:
      action: apply
      payload: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: chaos-marker, namespace: default}
        data: {by: seal}
  - wait: {seconds: 120}
"""
IN_CLUSTER = ("--state-backend", "kubernetes", "--state-namespace", NAMESPACE)


def cleanup(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = ("--kubeconfig", str(cluster.box.kubeconfig_path))
    return seal("cleanup", *kubeconfig, *IN_CLUSTER, *args)


def marker(cluster: Cluster) -> bool:
    return bool(cluster.box.call(lambda s: s.peek("configmaps", "default", "chaos-marker")))


def test_cleanup_lists_and_carries_out_what_a_killed_seal_left_in_the_cluster(
    cluster: Cluster, tmp_path: Path
) -> None:
    command = seal_command(cluster.box, write_policy(tmp_path, SLOW), tmp_path / "state")
    process = subprocess.Popen(
        [*command, *IN_CLUSTER, "--no-leader-elect"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        wait_for(lambda: marker(cluster), timeout=60, what="the applied ConfigMap")
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").glob("*.jsonl"))
    listed = cleanup(cluster, "--list")
    assert listed.returncode == 0, listed.stderr
    assert f"ConfigMap {NAMESPACE}/seal-journal-" in listed.stdout
    assert "kubectl delete of ConfigMap default/chaos-marker" in listed.stdout
    assert marker(cluster)  # listing changes nothing

    done = cleanup(cluster)
    assert done.returncode == 0, done.stderr
    assert "1 undo(s) carried out, 0 left" in done.stdout
    assert not marker(cluster)
    assert "no pending undos in ConfigMap" in cleanup(cluster, "--list").stdout


def test_cleanup_discards_an_undo_of_the_cluster_journal(cluster: Cluster) -> None:
    identity = identify(cluster.kube)
    store = ConfigMapStore(cluster.kube, NAMESPACE, configmap_name(identity.uid))
    journal = UndoJournal(store, identity=identity)
    entry = journal.record("note", {}, scenario="s#1", description="a note")
    result = cleanup(cluster, "--discard", entry.id[:10])
    assert result.returncode == 0, result.stderr
    assert f"discarded {entry.id}: a note" in result.stdout
    journal.reload()
    assert len(journal) == 0
    missing = cleanup(cluster, "--discard", "ffff")
    assert missing.returncode == 2
    assert "no pending undo with id 'ffff' in ConfigMap" in missing.stderr


@pytest.mark.parametrize(
    "flags",
    [
        ("--state-backend", "kubernetes", "--state-namespace", "seal-state"),
        ("--state-backend", "file", "--leader-elect", "--state-namespace", "seal-state"),
    ],
    ids=["journal-configmap", "lease-only"],
)
def test_a_state_namespace_that_does_not_exist_stops_seal_at_once(
    cluster: Cluster, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    command = seal_command(cluster.box, write_policy(tmp_path, SLOW), tmp_path / "state")
    started = time.monotonic()
    result = subprocess.run(
        [*command, *flags], capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )
    assert result.returncode == 2, result.stderr
    assert "--state-namespace seal-state: no such namespace in the cluster" in result.stderr
    assert "waiting for the leadership" not in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
    assert not marker(cluster)  # no scenario ran


def test_cleanup_in_a_namespace_that_does_not_exist_says_so(cluster: Cluster) -> None:
    kubeconfig = ("--kubeconfig", str(cluster.box.kubeconfig_path))
    for extra in ((), ("--list",), ("--discard", "ffff")):
        result = seal(
            "cleanup",
            *kubeconfig,
            "--state-backend",
            "kubernetes",
            "--state-namespace",
            "nope",
            *extra,
        )
        assert result.returncode == 2, (extra, result.stdout, result.stderr)
        assert "--state-namespace nope: no such namespace in the cluster" in result.stderr
        assert "undo(s) carried out" not in result.stdout


def test_cleanup_without_a_namespace_speaks_of_its_journal_only(tmp_path: Path) -> None:
    result = seal("cleanup", "--state-backend", "kubernetes")
    assert result.returncode == 2, result.stderr
    assert "the journal in the cluster needs a namespace: give --state-namespace" in result.stderr
    assert "leader election" not in result.stderr
    with pytest.raises(UsageError, match=r"^leader election needs a namespace"):
        resolve_state(StateOptions(backend="file", leader_elect=True), {}, tmp_path)

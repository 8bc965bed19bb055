"""Signals and crashes: seal never leaves a change behind."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, run_seal, start, write_policy
from tests.conftest import wait_for

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
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true}}]
  - wait: {seconds: 60}
"""


def marker_exists(box: Sandbox) -> bool:
    return bool(box.call(lambda store: store.peek("configmaps", "default", "chaos-marker")))


def journal_lines(state: Path) -> list[dict[str, object]]:
    lines = []
    for path in state.glob("journal-*.jsonl"):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines


def run_cleanup(box: Sandbox, state: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "seal",
        "cleanup",
        "--kubeconfig",
        str(box.kubeconfig_path),
        "--state-dir",
        str(state),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )


def test_sigterm_during_a_wait_cleans_up_and_exits(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = start(sandbox, write_policy(tmp_path, SLOW), state)
    try:
        wait_for(lambda: marker_exists(sandbox), what="the applied ConfigMap")
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 128 + signal.SIGTERM
    assert not marker_exists(sandbox)
    assert journal_lines(state) == []


def test_sigkill_leaves_a_journal_that_cleanup_replays(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = start(sandbox, write_policy(tmp_path, SLOW), state)
    try:
        wait_for(lambda: marker_exists(sandbox), what="the applied ConfigMap")
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert marker_exists(sandbox)
    assert [r["kind"] for r in journal_lines(state) if r["op"] == "record"] == ["kubectl-delete"]
    cleanup = run_cleanup(sandbox, state)
    assert cleanup.returncode == 0, cleanup.stderr
    assert cleanup.stdout.strip() == "1 undo(s) carried out, 0 left"
    assert not marker_exists(sandbox)
    again = run_cleanup(sandbox, state)
    assert again.stdout.strip() == "0 undo(s) carried out, 0 left"


def test_the_next_start_replays_what_a_crash_left(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = start(sandbox, write_policy(tmp_path, SLOW), state)
    wait_for(lambda: marker_exists(sandbox), what="the applied ConfigMap")
    process.kill()
    process.wait(timeout=30)
    quick = write_policy(tmp_path, "scenarios: []\n", "empty.yml")
    result = run_seal(sandbox, quick, state)
    assert result.returncode == 0, result.stderr
    assert "an earlier run left 1 undo(s) pending" in result.stderr
    assert not marker_exists(sandbox)


def test_metrics_scraped_over_http_show_the_kills(sandbox: Sandbox, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = tmp_path / "state"
    process = start(
        sandbox, write_policy(tmp_path, SLOW), state, "--metrics-address", f"127.0.0.1:{port}"
    )

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                text = answer.read().decode()
        except OSError:
            return ""
        return text if "seal_pod_kills_total{" in text else ""

    try:
        text = wait_for(scrape, timeout=30, what="a kill in the metrics")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    kills = re.findall(
        r'seal_pod_kills_total\{name="([^"]+)",namespace="default",'
        r'status="success"\} 1\.0',
        text,
    )
    assert len(kills) == 1 and kills[0].startswith("goldpinger-")
    assert "seal_pending_undos 1.0" in text
    assert (
        'seal_step_duration_seconds_count{result="passed",scenario="apply then wait",'
        'step="kubectl"} 1.0' in text
    )


def test_a_second_signal_exits_at_once_and_keeps_the_journal(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text('#!/bin/sh\ncase "$*" in *delete*) sleep 15;; esac\necho applied\n')
    fake.chmod(0o755)
    policy = write_policy(
        tmp_path,
        f"""\
scenarios:
- name: slow undo
  steps:
  - kubectl:
      action: apply
      kubectlBinary: {fake}
      payload: "kind: List"
  - wait: {{seconds: 60}}
""",
    )
    state = tmp_path / "state"
    process = start(sandbox, policy, state)
    try:
        wait_for(
            lambda: [r for r in journal_lines(state) if r["op"] == "record"],
            what="the undo to be recorded",
        )
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the undo (a kubectl delete that hangs) is now running
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 128 + signal.SIGTERM
    pending = [r for r in journal_lines(state) if r["op"] == "record"]
    assert [r["kind"] for r in pending] == ["kubectl-delete"]
    assert not [r for r in journal_lines(state) if r["op"] == "done"]


MARKER_APPLY = """\
scenarios:
- name: slow apply
  steps:
  - kubectl:
      action: apply
      kubectlBinary: {binary}
      payload: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: chaos-marker, namespace: default}}
        data: {{by: seal}}
  - wait: {{seconds: 60}}
"""


def processes_running(needle: str) -> list[int]:
    """The ids of live processes whose command line holds `needle`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in command and state != "Z":
            found.append(int(entry.name))
    return found


def test_sigkill_during_a_kubectl_apply_leaves_no_kubectl_and_nothing_behind(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    slow = tmp_path / "slow-kubectl"
    slow.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "if 'apply' in sys.argv:\n"
        "    time.sleep(8)\n"
        "os.execvp('kubectl', ['kubectl', *sys.argv[1:]])\n"
    )
    slow.chmod(0o755)
    state = tmp_path / "state"
    process = start(sandbox, write_policy(tmp_path, MARKER_APPLY.format(binary=slow)), state)
    try:
        wait_for(
            lambda: any(
                "apply" in (Path("/proc") / str(pid) / "cmdline").read_text()
                for pid in processes_running(str(slow))
            ),
            timeout=30,
            what="the slow kubectl apply to start",
        )
        process.kill()
        killed = time.monotonic()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    wait_for(lambda: not processes_running(str(slow)), timeout=2, what="kubectl to die with seal")
    cleanup = run_cleanup(sandbox, state)
    assert cleanup.returncode == 0, cleanup.stderr
    assert cleanup.stdout.strip() == "1 undo(s) carried out, 0 left"
    time.sleep(max(0.0, killed + 10 - time.monotonic()))  # past when an orphan would apply
    assert not marker_exists(sandbox)
    assert not processes_running(str(slow))


def test_the_undo_of_an_apply_deletes_again_what_lands_after_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A kubectl whose first delete is followed, 0.7s later, by the apply landing again,
    # as an apply sent by a seal that died just before can.
    late = tmp_path / "late-kubectl"
    late.write_text(
        "#!/bin/sh\n"
        f'cat > "{tmp_path}/manifest.$$"\n'
        f'case "$*" in *" delete "*) if [ ! -e "{tmp_path}/landed" ]; then\n'
        f'  touch "{tmp_path}/landed"\n'
        f'  cp "{tmp_path}/manifest.$$" "{tmp_path}/late.yaml"\n'
        f'  (sleep 0.7; kubectl --kubeconfig "{sandbox.kubeconfig_path}" apply '
        f'-f "{tmp_path}/late.yaml") >/dev/null 2>&1 </dev/null &\n'
        "fi;; esac\n"
        f'exec kubectl "$@" < "{tmp_path}/manifest.$$"\n'
    )
    late.chmod(0o755)
    state = tmp_path / "state"
    process = start(sandbox, write_policy(tmp_path, MARKER_APPLY.format(binary=late)), state)
    try:
        wait_for(lambda: marker_exists(sandbox), what="the applied ConfigMap")
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    cleanup = run_cleanup(sandbox, state)
    assert cleanup.returncode == 0, cleanup.stderr
    assert (tmp_path / "landed").exists()
    again = "came back after the undo deleted it, deleting again: ConfigMap default/chaos-marker"
    assert again in cleanup.stderr
    time.sleep(1.5)
    assert not marker_exists(sandbox)

"""Run semantics as a user sees them: interrupted runs, empty matches, the run summary,
exit codes, and kubectl steps that ride out a flaky API server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from sandbox.api import Faults
from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, run_seal, seal_command, start, write_policy
from tests.conftest import SandboxFactory, wait_for

WAITING = """\
scenarios:
- name: long wait
  steps:
  - wait: {seconds: 60}
"""

EMPTY = """\
scenarios:
- name: nothing to kill
  steps:
  - podAction:
      matches:
      - namespace: no-such-namespace
      - labels: {selector: app=nothing-has-this, namespace: default}
      actions:
      - kill: {force: true}
"""


def test_a_signal_reports_the_scenario_interrupted_and_prints_the_summary(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    process = start(
        sandbox, write_policy(tmp_path, WAITING), tmp_path / "state", "--stdout-collector"
    )
    try:
        time.sleep(2.5)  # connected and waiting
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "seal-metric scenario_finished name='long wait' result=interrupted" in out
    assert "result=passed" not in out
    assert "run summary: 1 loop(s), interrupted" in out
    row = next(line for line in out.splitlines() if line.startswith("long wait "))
    assert row.split()[3] == "interrupted"


def test_an_empty_match_is_a_warning_saying_why_and_can_fail_the_step(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, EMPTY)
    warned = run_seal(sandbox, policy, tmp_path / "state")
    assert warned.returncode == 0, warned.stderr
    assert "found no pods: no such namespace: no-such-namespace" in warned.stderr
    assert "no pod in namespace default matches 'app=nothing-has-this'" in warned.stderr
    failed = run_seal(sandbox, policy, tmp_path / "state", "--fail-on-empty-match")
    assert failed.returncode == 1
    assert "failOnEmptyMatch is on" in failed.stderr
    in_policy = write_policy(
        tmp_path,
        "  safety: {failOnEmptyMatch: true}\n" + EMPTY,
        name="strict.yml",
    )
    assert run_seal(sandbox, in_policy, tmp_path / "state").returncode == 1


def test_the_run_summary_is_one_json_line_with_json_logs(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: kill one goldpinger
          steps:
          - podAction:
              matches: [{labels: {selector: app=goldpinger, namespace: default}}]
              filters: [{randomSample: {size: 1}}]
              actions: [{kill: {force: true}}]
        """,
    )
    command = seal_command(sandbox, policy, tmp_path / "state")
    command[3:3] = ["--log-format", "json"]  # a global flag: before the subcommand
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    summaries = [r["summary"] for r in records if "summary" in r]
    assert len(summaries) == 1
    (row,) = summaries[0]["scenarios"]
    assert row["scenario"] == "kill one goldpinger"
    assert (row["runs"], row["result"], row["targets"], row["undos_left"]) == (1, "passed", 1, 0)


def test_an_unreachable_cluster_has_its_own_exit_code(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    policy = write_policy(tmp_path, WAITING)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "autonomous",
            "--kubeconfig",
            str(kubeconfig),
            "--policy-file",
            str(policy),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 3, result.stderr
    assert "cannot talk to the cluster at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_kubectl_steps_ride_out_a_flaky_api_server(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory(faults=Faults(error_rate=0.2, seed=3))
    policy = (
        write_policy(
            tmp_path,
            """\
        scenarios:
        - name: apply and delete
          steps:
          - kubectl:
              action: apply
              payload: |
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: flaky-marker, namespace: default}
                data: {a: "1"}
          - kubectl:
              action: delete
              autoDelete: false
              payload: |
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: flaky-marker, namespace: default}
        """,
        )
        .read_text()
        .replace("runs: 1,", "runs: 3,")
    )
    (tmp_path / "flaky.yml").write_text(policy)
    result = run_seal(box, tmp_path / "flaky.yml", tmp_path / "state", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 scenario run(s) passed, 0 failed" in result.stderr
    wait_for(
        lambda: (
            not box.call(lambda store: store.list("configmaps", "default"))
            or all(
                c["metadata"]["name"] != "flaky-marker"
                for c in box.call(lambda store: store.list("configmaps", "default"))
            )
        ),
        what="the ConfigMap to be gone",
    )

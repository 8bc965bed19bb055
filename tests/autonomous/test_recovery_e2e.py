"""recoveredWithin and verdicts end to end: seal autonomous against the sandbox."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from sandbox.timing import SandboxTiming
from tests.autonomous.helpers import run_seal, write_policy
from tests.conftest import SandboxFactory

KILL_ONE = """\
scenarios:
- name: goldpinger heals
  steps:
  - podAction:
      matches: [{deployment: {name: goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions:
      - kill: {force: true, recoveredWithin: %s}
"""


def test_a_kill_that_heals_in_time_passes_and_says_how_long_it_took(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    policy = write_policy(tmp_path, KILL_ONE % 30)
    reports = tmp_path / "reports"
    result = run_seal(
        box, policy, tmp_path / "state", "--stdout-collector", "--report-dir", str(reports)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if "action_verified" in line] == [
        "seal-metric action_verified result=verified"
    ]
    [recovery] = [line for line in lines if "seal-metric recovery " in line]
    kill_line = 1 + next(
        n for n, text in enumerate(policy.read_text().splitlines()) if "kill:" in text
    )
    label = f"step='podAction@line{kill_line}'"
    assert recovery.startswith(f"seal-metric recovery scenario='goldpinger heals' {label} seconds=")
    assert 0 < float(recovery.rsplit("=", 1)[1]) < 30
    assert "recovered after" in result.stderr
    # the journal of the run holds the recovery time and the verdict
    [journal] = reports.glob("*.json")
    [step] = json.loads(journal.read_text())["steps"]
    assert step["recoverySeconds"] == pytest.approx(float(recovery.rsplit("=", 1)[1]), abs=1e-3)
    [action] = step["actions"]
    assert (action["action"], action["outcome"], action["verdict"]) == ("kill", "ok", "verified")
    assert action["target"].startswith("default/goldpinger-")


def test_a_kill_that_heals_too_slowly_fails_the_run_naming_what_is_behind(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    box = sandbox_factory(timing=replace(SandboxTiming.fast(), pod_start_seconds=60))
    result = run_seal(box, write_policy(tmp_path, KILL_ONE % 1.5), tmp_path / "state")
    assert result.returncode == 1, result.stderr
    assert "not recovered within 1.5 s" in result.stderr
    assert (
        "deployment default/goldpinger: 2 of 3 Ready; service default/goldpinger: 2 of 3 endpoints"
        in result.stderr
    )


RECOVERY_EVERYWHERE = """\
scenarios:
- name: heal after a kill and a stop
  steps:
  - podAction:
      matches: [{deployment: {name: goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true, recoveredWithin: 30}}]
  - nodeAction:
      matches: [{property: {name: name, value: worker-1$}}]
      actions: [{stop: {recoveredWithin: 30}}]
"""


@pytest.mark.parametrize("namespaced", [False, True], ids=["clusterrole", "namespaced"])
def test_measuring_recovery_needs_only_what_seal_rbac_prints(
    namespaced: bool, tmp_path: Path
) -> None:
    from sandbox.cluster import preset
    from sandbox.sandbox import Sandbox
    from tests.autonomous.test_rbac_e2e import _grant, _run

    policy = write_policy(tmp_path, RECOVERY_EVERYWHERE)
    if namespaced:  # the kill alone: every read it needs fits in a namespace's Role
        kill_only = RECOVERY_EVERYWHERE.split("  - nodeAction", maxsplit=1)[0]
        policy = write_policy(tmp_path, kill_only)
    with Sandbox(preset("demo"), timing=SandboxTiming.fast(), seed=1) as box:
        printed, kubeconfig = _grant(
            box, tmp_path, str(policy), *(["--namespaced"] if namespaced else [])
        )
        for resource in ("replicasets", "deployments", "statefulsets", "daemonsets"):
            assert resource in printed
        assert "endpoints" in printed
        result = _run(kubeconfig, str(policy), tmp_path / "state", dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "preflight: the cluster allows all" in result.stderr
    assert "forbidden" not in result.stderr
    assert result.stderr.count("recovered after") == (1 if namespaced else 2)

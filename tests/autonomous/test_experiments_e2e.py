"""Experiments that measure, run with the seal command against a sandbox: a steady-state
hypothesis that stops the chaos or catches a deviation, and a waitFor SLO that holds or
times out, with its metric."""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import live_pod_names, run_seal, seal_events, write_policy

KILL_ONE = """\
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true}}]
"""


def test_a_hypothesis_not_met_means_no_chaos_and_exit_1(sandbox: Sandbox, tmp_path: Path) -> None:
    before = live_pod_names(sandbox, "default", "app=goldpinger")
    policy = write_policy(
        tmp_path,
        "scenarios:\n"
        "- name: needs a cache\n"
        "  steadyState:\n"
        "    title: the cache is ready\n"
        "    probes:\n"
        "    - probeDeployment: {name: cache, namespace: default}\n"
        "  steps:\n" + KILL_ONE,
    )
    result = run_seal(sandbox, policy, tmp_path / "state")
    assert result.returncode == 1, result.stderr
    assert (
        "steady state 'the cache is ready' not met before the steps: probe 1 (probeDeployment): "
        "probeDeployment default/cache: the Deployment does not exist; no chaos done"
    ) in result.stderr
    assert re.search(r"needs a cache\s+1\s+not-steady", result.stdout), result.stdout
    assert live_pod_names(sandbox, "default", "app=goldpinger") == before
    assert seal_events(sandbox) == []


def test_a_wait_for_slo_holds_and_its_time_is_a_metric(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "scenarios:\n"
        "- name: heals in time\n"
        "  steadyState:\n"
        "    probes:\n"
        "    - probePods: {namespace: default, selector: app=goldpinger, count: 3}\n"
        "  steps:\n" + KILL_ONE + "  - waitFor:\n"
        "      name: healed\n"
        "      probe: {probePods: {namespace: default, selector: app=goldpinger, count: 3}}\n"
        "      timeout: 30\n"
        "      interval: 0.5\n",
    )
    result = run_seal(sandbox, policy, tmp_path / "state", "--stdout-collector")
    assert result.returncode == 0, result.stderr
    assert len(seal_events(sandbox)) == 1
    waited = re.search(
        r"seal-metric wait_for scenario='heals in time' step='healed' seconds=(\S+)", result.stdout
    )
    assert waited, result.stdout
    assert 0 < float(waited.group(1)) < 30
    assert "seal-metric scenario_finished name='heals in time' result=passed" in result.stdout


def test_a_wait_for_that_times_out_fails_with_the_last_value(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: four replicas soon
          steps:
          - waitFor:
              probe: {probeDeployment: {name: goldpinger, namespace: default, available: 4}}
              timeout: 1.5
              interval: 0.5
        """,
    )
    result = run_seal(sandbox, policy, tmp_path / "state", "--stdout-collector")
    assert result.returncode == 1, result.stderr
    assert "did not hold within 1.5s" in result.stderr
    assert (
        "last: probeDeployment default/goldpinger: 3 available and 3 ready of 3 desired "
        "replica(s); expected available = 4"
    ) in result.stderr
    assert "seal-metric wait_for" not in result.stdout
    assert re.search(r"four replicas soon\s+1\s+failed", result.stdout), result.stdout

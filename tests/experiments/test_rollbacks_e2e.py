"""A seal policy's `rollbacks:` run by the seal command against a sandbox: after the steps
whatever became of them, each even when the one before failed, never when the steady
state did not hold (nothing was done)."""

from __future__ import annotations

from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import run_seal, write_policy
from tests.experiments.test_experiments_e2e import replicas

ROLLBACK_TO_2 = """\
          rollbacks:
          - scaleDeployment: {name: nowhere, namespace: default, replicas: 1, restore: false}
          - scaleDeployment: {name: goldpinger, namespace: default, replicas: 2, restore: false}
"""


def test_rollbacks_run_after_a_failing_step_even_when_one_of_them_fails(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: a step fails
          steps:
          - scaleDeployment: {name: goldpinger, namespace: default, replicas: 4}
          - probeDeployment: {name: cache, namespace: default}
          - scaleDeployment: {name: goldpinger, namespace: default, replicas: 6}
        """.rstrip(" ")
        + ROLLBACK_TO_2,
    )
    result = run_seal(sandbox, policy, tmp_path / "state")
    assert result.returncode == 1, result.stderr
    assert "scenario failed" in result.stderr
    assert "probeDeployment default/cache: the Deployment does not exist" in result.stderr
    assert "to 6 replica(s)" not in result.stderr  # the steps stopped at the failure
    # both rollbacks ran (the first failing), then the undo of step 1 set 3 back
    assert (
        "[a step fails/4:scaleDeployment] seal.runtime.scenario: "
        "step failed: Deployment default/nowhere" in result.stderr
    )
    assert "scaled Deployment default/goldpinger from 4 to 2 replica(s)" in result.stderr
    assert "scaled Deployment default/goldpinger back from 2 to 3 replica(s)" in result.stderr
    assert replicas(sandbox) == 3


def test_a_rollback_is_not_undone(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: scaled by its rollback
          steps:
          - wait: {seconds: 0}
          rollbacks:
          - scaleDeployment: {name: goldpinger, namespace: default, replicas: 2, restore: false}
        """,
    )
    result = run_seal(sandbox, policy, tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert replicas(sandbox) == 2


def test_no_rollback_when_the_steady_state_did_not_hold(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        """\
        scenarios:
        - name: not steady
          steadyState:
            probes:
            - probeDeployment: {name: cache, namespace: default}
          steps:
          - scaleDeployment: {name: goldpinger, namespace: default, replicas: 4}
        """.rstrip(" ")
        + ROLLBACK_TO_2,
    )
    result = run_seal(sandbox, policy, tmp_path / "state")
    assert result.returncode == 1, result.stderr
    assert "not-steady" in result.stdout
    assert "replica(s)" not in result.stderr
    assert replicas(sandbox) == 3

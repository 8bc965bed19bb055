"""An abort is scoped to its scenario: seal undoes it and carries on with the next one
(exitStrategy report), and the run fails at the end (exit status 1)."""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import run_seal
from tests.load.test_abort import MARKER, marker_exists

POLICY = (
    """\
config:
  runStrategy: {runs: 2, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}
  exitStrategy: {strategy: report}
scenarios:
- name: aborted at once
  abortWhen:
  - probeHTTP: {target: {url: 'http://127.0.0.1:9/health'}, retries: 1, timeout: 200}
  abortCheckSeconds: 0.2
  steps:
"""
    + MARKER
    + """\
  - wait: {seconds: 60}
- name: carries on
  steps:
  - wait: {seconds: 0}
"""
)


def test_an_aborted_scenario_does_not_stop_the_run(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    result = run_seal(sandbox, policy, tmp_path / "state", "--stdout-collector", timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stdout.count("scenario_finished name='aborted at once' result=aborted") == 2
    assert result.stdout.count("scenario_finished name='carries on' result=passed") == 2
    assert re.search(r"aborted at once\s+2\s+aborted", result.stdout), result.stdout
    assert re.search(r"carries on\s+2\s+passed", result.stdout), result.stdout
    assert "aborted at once: abortWhen probe 1 (probeHTTP) failed: probe GET " in result.stdout
    assert not marker_exists(sandbox)

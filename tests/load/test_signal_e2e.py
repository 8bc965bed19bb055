"""A shutdown while the background load runs: the scenario is interrupted (not aborted),
the undos run, the load stops and says what it did, and seal exits as on any signal."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import start, write_policy
from tests.conftest import wait_for
from tests.load.test_abort import MARKER, marker_exists

POLICY = (
    """\
scenarios:
- name: load then signal
  background:
    users: 5
    rate: 50
    service: {namespace: myapp, name: my-service}
    thresholds: {maxErrorRate: 0.1}
  abortWhen:
  - probeDeployment: {name: my-service, namespace: myapp}
  abortCheckSeconds: 0.5
  steps:
"""
    + MARKER
    + "  - wait: {seconds: 60}\n"
)


def test_a_signal_during_load_interrupts_and_undoes(sandbox: Sandbox, tmp_path: Path) -> None:
    process = start(
        sandbox, write_policy(tmp_path, POLICY), tmp_path / "state", "--stdout-collector"
    )
    try:
        wait_for(lambda: marker_exists(sandbox), timeout=60, what="the kubectl step")
        time.sleep(1)  # the load has run a while
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "seal-metric scenario_finished name='load then signal' result=interrupted" in out
    assert "seal-metric load_requests scenario='load then signal' success=" in out
    assert "scenario aborted" not in err
    assert "background load: " in err and " request(s) in " in err
    assert not marker_exists(sandbox)

"""alertManagerAction against a real Alertmanager (Debian's prometheus-alertmanager, run by
the test on loopback): the silence appears for the scenario and is expired at its end,
also when seal was killed and `seal cleanup` replays the journal."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, free_port, run_seal, start, write_policy
from tests.conftest import wait_for


def silences(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v2/silences", timeout=5) as answer:
        found: list[dict[str, Any]] = json.loads(answer.read())
    return found


def states(url: str) -> list[str]:
    return [s["status"]["state"] for s in silences(url)]


def mute_policy(tmp_path: Path, url: str, *, wait: int, auto_unmute: bool = True) -> Path:
    return write_policy(
        tmp_path,
        f"""\
        scenarios:
        - name: quiet chaos
          steps:
          - alertManagerAction:
              targets: [{{url: "{url}"}}]
              actions: [{{mute: {{duration: 600, autoUnmute: {str(auto_unmute).lower()}}}}}]
          - wait: {{seconds: {wait}}}
        """,
    )


def test_a_silence_covers_the_scenario_and_is_expired_after_it(
    sandbox: Sandbox, alertmanager: str, tmp_path: Path
) -> None:
    process = start(sandbox, mute_policy(tmp_path, alertmanager, wait=4), tmp_path / "state")
    try:
        wait_for(lambda: states(alertmanager) == ["active"], timeout=30, what="the silence")
        (silence,) = silences(alertmanager)
        assert silence["createdBy"] == "seal"
        assert "quiet chaos" in silence["comment"]
        assert silence["matchers"] == [
            {"name": "alertname", "value": ".+", "isRegex": True, "isEqual": True}
        ]
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert states(alertmanager) == ["expired"]


def test_without_auto_unmute_the_silence_runs_its_course(
    sandbox: Sandbox, alertmanager: str, tmp_path: Path
) -> None:
    policy = mute_policy(tmp_path, alertmanager, wait=0, auto_unmute=False)
    result = run_seal(sandbox, policy, tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert states(alertmanager) == ["active"]


def test_a_killed_run_leaves_a_silence_that_cleanup_expires(
    sandbox: Sandbox, alertmanager: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    process = start(sandbox, mute_policy(tmp_path, alertmanager, wait=60), state)
    try:
        wait_for(lambda: states(alertmanager) == ["active"], timeout=30, what="the silence")
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert states(alertmanager) == ["active"]
    cleanup = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "cleanup",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert cleanup.returncode == 0, cleanup.stderr
    assert states(alertmanager) == ["expired"]


def test_an_unreachable_alertmanager_fails_the_step_clearly(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_seal(sandbox, mute_policy(tmp_path, url, wait=0), tmp_path / "state")
    assert result.returncode == 1
    assert f"Alertmanager POST {url}/api/v2/silences: " in result.stderr
    assert "connection refused" in result.stderr
    assert "Traceback" not in result.stderr

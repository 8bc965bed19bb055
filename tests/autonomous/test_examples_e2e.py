"""The example policies, run as the README tells a new user to: against `--sandbox`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.autonomous.helpers import REPO
from tests.load.prometheus import prometheus_scraping_seal

#: policy -> (exit status, a line seal must print)
EXPECTED = {
    "kill-half-of-a-deployment": (0, "done: 1 loop(s), 1 scenario run(s) passed, 0 failed"),
    "kill-one-pod-and-probe": (0, "done: 1 loop(s), 1 scenario run(s) passed, 0 failed"),
    "pod-start-slo": (0, "undone: kubectl delete"),
    # Steps whose machinery this version lacks fail clearly and touch nothing.
    "stop-one-machine-in-a-zone": (0, "undone: start machine"),
    "clone-with-toxiproxy-latency": (0, "undone: delete the clone default/goldpinger-chaos ("),
    "clone-with-tc-delay": (0, "undone: delete the clone myapp/my-service-chaos ("),
    "clone-with-environment": (
        0,
        "undone: delete the clone default/goldpinger-chaos and revert the selector of "
        "default/goldpinger (",
    ),
    "silence-alerts-during-chaos": (0, "done: 1 loop(s), 1 scenario run(s) passed, 0 failed"),
    "pod-healing-slo": (0, "waitFor goldpinger-healed: held after "),
    # with a Prometheus scraping seal's metrics (its SLO is read from there)
    "rollout-under-load": (0, "done: 1 loop(s), 1 scenario run(s) passed, 0 failed"),
    "greeter-steady-state": (
        0,
        "steady state 'the greeter greets, quickly, from every replica' holds after the steps",
    ),
}


def test_every_example_policy_is_covered() -> None:
    assert {p.stem for p in (REPO / "policies").glob("*.yml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_policy_against_the_sandbox(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    status, line = EXPECTED[name]
    environ = dict(os.environ)
    if name == "silence-alerts-during-chaos":
        environ["ALERTMANAGER_URL"] = request.getfixturevalue("alertmanager")
    if name == "rollout-under-load":
        environ |= prometheus_scraping_seal(tmp_path, request.addfinalizer)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "autonomous",
            "--sandbox",
            "--policy-file",
            f"policies/{name}.yml",
            "--state-dir",
            str(tmp_path / "state"),
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
        env=environ,
    )
    assert result.returncode == status, result.stderr
    assert line in result.stderr
    # Nothing but seal's own log lines: no traceback, no warning from a half-stopped sandbox.
    strays = [
        text
        for text in result.stderr.splitlines()
        if text and not text[:4].isdigit() and not text.startswith("seal:")
    ]
    assert strays == [], "\n".join(strays)
    assert not list((tmp_path / "state").glob("*.jsonl")) or all(
        not p.read_text().strip() for p in (tmp_path / "state").glob("*.jsonl")
    )

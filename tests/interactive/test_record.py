"""A recorded session is a policy: `seal validate` accepts it and `seal autonomous`
replays it with the same effect on the cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, run_seal
from tests.conftest import wait_for
from tests.interactive.conftest import Harness, Make, live_pods, machine_running


def node_events(box: Sandbox, node: str) -> list[str]:
    def read(store: Any) -> list[str]:
        return [
            str(e.get("message", ""))
            for e in store.list("events")
            if e.get("reason") == "SealChaos" and e["involvedObject"].get("name") == node
        ]

    return list(box.call(read))


def replaced(box: Sandbox, before: dict[str, str]) -> int:
    """How many of the pods `before` are gone (the deployment keeps three)."""
    wait_for(lambda: len(live_pods(box, "myapp")) == len(before), what="replacements")
    return len(set(before.values()) - set(live_pods(box, "myapp").values()))


def test_a_recorded_session_validates_and_replays_with_the_same_effect(
    harness: Harness, sandbox: Sandbox, tmp_path: Path
) -> None:
    policy = tmp_path / "game-day.yml"
    before = live_pods(sandbox, "myapp")
    harness.run(f"record {policy}")
    harness.run("kill -n myapp -l app=my-service --sample 1 --force")
    harness.run("stop worker-3")
    harness.run("wait 1")
    harness.run("nodes --az WEST-1")  # looking is not recorded
    harness.run("kill myapp/nope")  # nor is a mistake
    out = harness.run("stop-recording")
    assert f"recorded 3 step(s) in {policy}" in out, out
    harness.run("undo all")
    assert replaced(sandbox, before) == 1
    assert machine_running(sandbox, "worker-3")
    stops = len([m for m in node_events(sandbox, "worker-3") if "stopping" in m])
    assert stops == 1

    document = yaml.safe_load(policy.read_text())
    steps = document["scenarios"][0]["steps"]
    assert [next(iter(s)) for s in steps] == ["podAction", "nodeAction", "wait"]
    checked = subprocess.run(
        [sys.executable, "-m", "seal", "validate", str(policy)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    before = live_pods(sandbox, "myapp")
    result = run_seal(sandbox, policy, tmp_path / "replay-state")
    assert result.returncode == 0, result.stderr
    assert replaced(sandbox, before) == 1
    assert len([m for m in node_events(sandbox, "worker-3") if "stopping" in m]) == stops + 1
    assert machine_running(sandbox, "worker-3")  # started again when the scenario ended


def test_recording_twice_or_stopping_when_not_recording_is_explained(
    harness: Harness, tmp_path: Path
) -> None:
    assert "not recording" in harness.run("stop-recording")
    harness.run(f"record {tmp_path / 'a.yml'}")
    assert "already recording" in harness.run(f"record {tmp_path / 'b.yml'}")
    out = harness.run(f"record {tmp_path / 'missing' / 'dir' / 'c.yml'}")
    assert "already recording" in out
    harness.run("stop-recording")
    out = harness.run(f"record {tmp_path / 'missing' / 'dir' / 'c.yml'}")
    assert "cannot write the recording" in out, out


def test_protected_namespaces_of_the_session_go_into_the_recording(
    make_harness: Make, tmp_path: Path
) -> None:
    harness = make_harness(protected_namespaces=("payments",))
    policy = tmp_path / "careful.yml"
    harness.run(f"record {policy}")
    harness.run("wait 0")
    harness.run("stop-recording")
    document = yaml.safe_load(policy.read_text())
    assert document["config"]["safety"]["protectedNamespaces"] == ["kube-system", "payments"]
    assert document["scenarios"][0]["steps"] == [{"wait": {"seconds": 0.0}}]

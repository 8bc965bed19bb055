"""seal label: pods opt in through labels or annotations; the label wins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandbox.sandbox import Sandbox
from sandbox.store import Obj
from tests.autonomous.helpers import REPO, live_pod_names, seal_events

ALL_DAY = {
    "seal/days": "mon,tue,wed,thu,fri,sat,sun",
    "seal/start-time": "00-00-00",
    "seal/end-time": "23-59-59",
}


def label_pod(
    box: Sandbox, name: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> None:
    def change(pod: Obj) -> None:
        pod["metadata"]["labels"].update(labels)
        pod["metadata"].setdefault("annotations", {}).update(annotations or {})

    box.call(lambda store: store.mutate("pods", "default", name, change))


def test_label_mode_kills_only_pods_that_opted_in(sandbox: Sandbox, tmp_path: Path) -> None:
    first, second, third = sorted(live_pod_names(sandbox, "default", "app=goldpinger"))
    label_pod(
        sandbox,
        first,
        {"seal/enabled": "true", "seal/force-kill": "true"},
        {k: v for k, v in ALL_DAY.items()},
    )
    label_pod(sandbox, second, {"seal/enabled": "false"}, {"seal/enabled": "true", **ALL_DAY})
    label_pod(
        sandbox, third, {"seal/enabled": "true", "seal/kill-probability": "lots"}, dict(ALL_DAY)
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "label",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--namespace",
            "default",
            "--runs",
            "1",
            "--seed",
            "3",
            "--state-dir",
            str(tmp_path / "state"),
            "--stdout-collector",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert [e["involvedObject"]["name"] for e in seal_events(sandbox)] == [first]
    assert f"pod_killed namespace=default name={first} status=success" in result.stdout
    assert f"skipping default/{third}: seal/kill-probability: not a number" in result.stderr
    assert first not in live_pod_names(sandbox, "default", "app=goldpinger")


def test_label_mode_outside_its_hours_kills_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    first = sorted(live_pod_names(sandbox, "default", "app=goldpinger"))[0]
    label_pod(
        sandbox,
        first,
        {
            "seal/enabled": "true",
            "seal/days": "mon",
            "seal/start-time": "00-00-00",
            "seal/end-time": "00-00-01",
        },
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "label",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--runs",
            "1",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert seal_events(sandbox) == []
    assert (
        "1 opted-in pod(s) left alone: outside their kill window (1 pod(s): mon 00:00:00-00:00:01)"
        in result.stderr
    )


def run_label(sandbox: Sandbox, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "label",
            "--kubeconfig",
            str(sandbox.kubeconfig_path),
            "--runs",
            "1",
            "--state-dir",
            str(tmp_path / "state"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


ALWAYS = {
    "seal/enabled": "true",
    "seal/days": "mon,tue,wed,thu,fri,sat,sun",
    "seal/start-time": "00-00-00",
    "seal/end-time": "23-59-59",
}


def test_label_mode_help_lists_every_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seal", "label", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    for key in ("enabled", "force-kill", "kill-probability", "days", "start-time", "end-time"):
        assert f"seal/{key}" in result.stdout


def test_label_mode_dry_run_says_would_kill(sandbox: Sandbox, tmp_path: Path) -> None:
    first = sorted(live_pod_names(sandbox, "default", "app=goldpinger"))[0]
    label_pod(sandbox, first, ALWAYS)
    result = run_label(sandbox, tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "1 pod(s) would be killed (dry run)" in result.stderr
    assert "pod(s) killed" not in result.stderr
    assert first in live_pod_names(sandbox, "default", "app=goldpinger")


def test_label_mode_max_targets_refuses_a_pass_in_its_own_words(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    names = sorted(live_pod_names(sandbox, "default", "app=goldpinger"))[:2]
    for name in names:
        label_pod(sandbox, name, ALWAYS)
    result = run_label(sandbox, tmp_path, "--max-targets-per-step", "1")
    assert "label mode: 2 opted-in pod(s) are due in this pass, more than" in result.stderr
    assert "--max-targets-per-step=1; none was killed" in result.stderr
    assert "maxTargetsPerStep" not in result.stderr
    assert set(names) <= live_pod_names(sandbox, "default", "app=goldpinger")

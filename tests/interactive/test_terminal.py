"""`seal interactive` in a real pseudo-terminal, typed at as a person would."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pexpect
import pytest

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO
from tests.interactive.conftest import live_pods, machine_running

PROMPT = "seal>"
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(*args: str, options: tuple[str, ...] = ()) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "160"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "seal", *options, "interactive", *args],
        cwd=str(REPO),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 160),
    )
    child.expect(PROMPT)
    return child


def typed(child: pexpect.spawn, line: str, until: str) -> str:
    """Type a line; what the shell printed up to `until` (a pattern) and the next
    prompt, escapes removed."""
    child.sendline(line)
    child.expect(until)
    seen = (child.before or "") + str(child.after or "")
    child.expect(PROMPT)
    return ESCAPES.sub("", seen + (child.before or ""))


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, child.signalstatus
    return int(child.exitstatus)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_a_person_lists_pods_and_leaves(sandbox: Sandbox, state: Path) -> None:
    child = spawn("--kubeconfig", str(sandbox.kubeconfig_path), "--state-dir", str(state))
    out = typed(child, "pods -n myapp", r"\d+ pod\(s\)")
    for name in live_pods(sandbox, "myapp"):
        assert name in out
    assert "Running" in out
    out = typed(child, "pods -n default", r"\d+ pod\(s\)")
    assert "pod(s)" in out
    child.sendline("exit")
    assert finish(child) == 0
    log = (state / "interactive.log").read_text()
    assert "connected to" in log  # seal's log lines go to the file, not the terminal
    assert (state / "interactive-history").read_text().count("pods -n") == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_undoes_what_is_pending(
    sandbox: Sandbox, state: Path, signum: int
) -> None:
    child = spawn("--kubeconfig", str(sandbox.kubeconfig_path), "--state-dir", str(state))
    out = typed(child, "stop worker-3", "stopped")
    assert "1 machine(s) stopped" in out, out
    assert not machine_running(sandbox, "worker-3")
    child.kill(signum)
    child.expect("undid 1 change")
    assert finish(child) == 128 + signum
    assert machine_running(sandbox, "worker-3")


def test_sandbox_flag_starts_a_cluster_to_play_with(tmp_path: Path) -> None:
    child = spawn("--sandbox", "--state-dir", str(tmp_path / "state"))
    out = typed(child, "deployments -n myapp", r"deployment\(s\)")
    assert "my-service" in out
    child.sendcontrol("d")
    assert finish(child) == 0


def test_ctrl_c_cuts_an_action_short_and_the_shell_goes_on(sandbox: Sandbox, state: Path) -> None:
    child = spawn("--kubeconfig", str(sandbox.kubeconfig_path), "--state-dir", str(state))
    child.sendline("wait 60")
    time.sleep(1.5)  # the wait is under way
    child.sendintr()
    child.expect("interrupted", timeout=10)
    child.expect(PROMPT)
    out = typed(child, "nodes --az EAST-1", r"node\(s\)")
    assert "worker-2" in out
    child.sendline("exit")
    assert finish(child) == 0


def test_the_log_file_has_the_structured_lines_of_autonomous_mode(
    sandbox: Sandbox, state: Path
) -> None:
    child = spawn(
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "--state-dir",
        str(state),
        options=("--log-format", "json"),
    )
    victim = sorted(live_pods(sandbox, "myapp"))[0]
    out = typed(child, f"kill myapp/{victim} --force", r"acted on \d+ pod")
    assert "acted on 1 pod" in out
    child.sendline("exit")
    assert finish(child) == 0
    lines = [json.loads(line) for line in (state / "interactive.log").read_text().splitlines()]
    (kill,) = [line for line in lines if line.get("action") == "kill"]
    assert kill["scenario"] == "interactive"
    assert kill["step"] == "1:podAction"
    assert (kill["target"], kill["outcome"]) == (f"myapp/{victim}", "success")

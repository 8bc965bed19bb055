"""The console script's quick exit: what Python's own exit does first still happens
(threads waited for, atexit handlers run, output flushed), and the status is kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

POLICY = "scenarios:\n- name: wait\n  steps:\n  - wait: {seconds: 0}\n"


def run_seal(prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`seal ARGS` through `seal.cli.run`, after `prelude` ran in the same process."""
    code = f"import sys\n{prelude}\nsys.argv = ['seal', *{list(args)!r}]\n"
    code += "from seal.cli import run\nrun()\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_atexit_handlers_run_and_threads_are_waited_for(tmp_path: Path) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text(POLICY)
    marker = tmp_path / "thread-done"
    prelude = f"""
import atexit, threading, time
atexit.register(lambda: print("atexit ran", flush=True))
def late():
    time.sleep(0.3)
    open({str(marker)!r}, "w").write("done")
threading.Thread(target=late).start()
"""
    result = run_seal(prelude, "validate", "--policy-file", str(policy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{policy}: OK", "atexit ran"]
    assert marker.read_text() == "done"  # the non-daemon thread finished before the end


def test_a_long_output_to_a_pipe_arrives_whole() -> None:
    result = run_seal("", "schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["type"] == "object"


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--policy-file", "/nonexistent/policy.yml"],
        ["no-such-command"],
        ["autonomous", "--policy-file", "/nonexistent/policy.yml", "--kubeconfig", "/nonexistent"],
        ["--version"],
    ],
)
def test_the_exit_status_and_output_are_those_of_the_usual_exit(args: list[str]) -> None:
    quick = run_seal("", *args)
    usual = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom seal.cli import main\nmain()", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (quick.returncode, quick.stdout, quick.stderr) == (
        usual.returncode,
        usual.stdout,
        usual.stderr,
    )
    assert (quick.returncode == 0) == (args == ["--version"])  # the failures do fail


def test_an_exit_with_a_message_says_it_and_ends_with_1() -> None:
    result = run_seal("import seal.cli\nseal.cli.main = lambda: sys.exit('gone wrong')")
    assert (result.returncode, result.stderr) == (1, "gone wrong\n")

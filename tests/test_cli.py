"""The command line's global behaviour: version, help, exit codes."""

from __future__ import annotations

import subprocess
import sys

from seal import __version__


def run_seal(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "seal", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_version_is_printed() -> None:
    result = run_seal("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run_seal("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr

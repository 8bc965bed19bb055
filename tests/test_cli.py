"""The command line's global behaviour: version, help, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from seal import __version__

REPO = Path(__file__).resolve().parents[1]


def run_seal(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "seal", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )


def test_version_is_printed() -> None:
    result = run_seal("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run_seal("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_flags_come_from_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "seal.yml"
    config.write_text("policy-file: policies/pod-start-slo.yml\nlog-format: json\n")
    result = run_seal("-c", str(config), "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "policies/pod-start-slo.yml: OK"


def test_unknown_flag_in_config_file_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "seal.yml"
    config.write_text("polcy-file: x.yml\n")
    result = run_seal("-c", str(config), "validate", "x.yml")
    assert result.returncode == 2
    assert "config file: polcy_file: not a flag of seal validate" in result.stderr
    assert "Traceback" not in result.stderr


def test_flags_come_from_seal_environment_variables() -> None:
    import os

    env = {**os.environ, "SEAL_POLICY_FILE": "policies/pod-start-slo.yml", "SEAL_SILENT": "1"}
    command = [sys.executable, "-m", "seal", "validate"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, env=env, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert "pod-start-slo.yml: OK" in result.stdout


def test_no_float_flag_takes_nan_or_infinity() -> None:
    cases = [
        ("label", "--max-seconds-between-runs", "nan"),
        ("label", "--min-seconds-between-runs", "inf"),
        ("autonomous", "--ssh-connect-timeout", "nan"),
        ("sandbox", "--api-error-rate", "nan"),
    ]
    for command, flag, value in cases:
        result = run_seal(command, flag, value)
        assert result.returncode == 2, (flag, result.stderr)
        assert f"{value!r} is not a finite number" in result.stderr, (flag, result.stderr)

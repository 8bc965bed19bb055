"""`seal validate` and `seal schema` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from seal.policy.loader import load_policy
from seal.steps.registry import STEP_TYPES

REPO = Path(__file__).resolve().parents[1]
POLICIES = sorted((REPO / "policies").glob("*.yml"))


def seal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "seal", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO, env=env
    )


def test_there_are_example_policies_and_each_says_what_it_tests() -> None:
    assert len(POLICIES) >= 6
    for path in POLICIES:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# What it tests:"), path.name
        assert "Hypothesis:" in path.read_text(), path.name


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_example_policies_validate(path: Path) -> None:
    assert load_policy(str(path), STEP_TYPES, environ={}).scenarios


def test_validate_prints_ok_and_exits_0() -> None:
    result = seal("validate", *(str(p.relative_to(REPO)) for p in POLICIES[:2]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{p.relative_to(REPO)}: OK" for p in POLICIES[:2]]


def test_validate_reports_problems_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("scenarios:\n- name: abc\n  steps:\n  - wiat: {seconds: 1}\n")
    good = POLICIES[0]
    result = seal("validate", str(good), "--policy-file", str(bad))
    assert result.returncode == 2
    assert f"{good}: OK" in result.stdout
    assert (
        f"{bad}:4:5: scenarios[0].steps[0].wiat: unknown step 'wiat'; did you mean 'wait'?"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_validate_takes_the_policy_file_from_the_environment(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "POLICY_FILE": str(POLICIES[0])}
    result = seal("validate", env=env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"{POLICIES[0]}: OK"


def test_missing_file_and_no_file_are_clear_errors(tmp_path: Path) -> None:
    missing = seal("validate", str(tmp_path / "nope.yml"))
    assert missing.returncode == 2
    assert "nope.yml: cannot read the file: No such file or directory" in missing.stderr
    none = seal("validate")
    assert none.returncode == 2
    assert "give at least one policy file" in none.stderr


def test_schema_is_json_schema_that_checks_the_examples() -> None:
    result = seal("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in POLICIES:
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path.name
    assert not validator.is_valid({"scenarios": [{"name": "abc", "steps": [{"wiat": {}}]}]})
    step_keys = set(
        schema["properties"]["scenarios"]["items"]["properties"]["steps"]["items"]["properties"]
    )
    assert step_keys == {
        "podAction",
        "nodeAction",
        "kubectl",
        "probeHTTP",
        "wait",
        "clone",
        "alertManagerAction",
        "probePods",
        "probeDeployment",
        "probePrometheus",
        "probeLogs",
        "waitFor",
        "scaleDeployment",
    }


def test_validate_imports_nothing_heavy() -> None:
    command = [sys.executable, "-X", "importtime", "-m", "seal", "validate", str(POLICIES[0])]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "yaml" in imported
    heavy = {
        "jsonschema",  # a valid policy passes the quick check (seal.policy.quick_check)
        "kubernetes",
        "prometheus_client",
        "aiohttp",
        "boto3",
        "google",
        "azure",
        "openstack",
        "requests",
        "urllib3",
        "drivers",
    }
    assert not heavy & imported, heavy & imported


def test_validate_reports_each_nasty_file_located_and_carries_on(tmp_path: Path) -> None:
    files = {
        "nan.yml": "scenarios:\n- name: abc\n  steps:\n  - wait: {seconds: .nan}\n",
        "huge.yml": "config: {runStrategy: {runs: 1" + "0" * 400 + "}}\nscenarios: []\n",
        "bomb.yml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + "scenarios: []\n",
        "deep.json": '{"scenarios": ' + "[" * 25_000 + "]" * 25_000 + "}\n",
        "dupes.yml": "scenarios: []\nscenarios: []\n",
    }
    paths = []
    for name, text in files.items():
        paths.append(tmp_path / name)
        paths[-1].write_text(text)
    result = seal("validate", *map(str, paths), str(POLICIES[0].relative_to(REPO)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == f"{POLICIES[0].relative_to(REPO)}: OK\n"
    lines = result.stderr.splitlines()
    expected = {
        "nan.yml": ":4:21: scenarios[0].steps[0].wait.seconds: must be a number, got .nan; "
        "a number must be finite",
        "huge.yml": ":1:30: config.runStrategy.runs: must be <= 2147483647, "
        "got a number of 401 digits",
        "bomb.yml": ":5:28: (top level): the aliases stand for more than 50000 values",
        "deep.json": ":1:114: (top level): the document is nested more than 100 levels deep",
        "dupes.yml": ":2:1: scenarios: duplicate key 'scenarios' (first given at line 1)",
    }
    for path in paths:
        mine = [line for line in lines if line.startswith(f"{path}:")]
        assert len(mine) == 2, (path.name, lines)
        assert mine[0].startswith(f"{path}{expected[path.name]}"), mine[0]
        assert mine[1] == f"{path}: INVALID (1 problem)"


@pytest.mark.parametrize("indent", ["99999999999999999999", "-1", "nan"])
def test_schema_refuses_an_indent_out_of_range_as_a_usage_error(indent: str) -> None:
    result = seal("schema", "--indent", indent)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--indent" in result.stderr

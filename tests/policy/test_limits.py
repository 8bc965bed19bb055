"""Numbers are finite and bounded, and YAML is read within bounds, everywhere in the format.

Each check covers a class, not an example: every number field the step types
declare, every way a document can be too deep, too large or expand too much.
Inputs that used to crash the interpreter run in a child process.
"""

from __future__ import annotations

import math
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seal.policy.document import Document
from seal.policy.loader import policy_schema
from seal.policy.schema import Schema, check_schema
from seal.steps.registry import STEP_TYPES
from tests.policy.helpers import REPO, load, problems

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    + ["scenarios: []", ""]
)


def number_fields(schema: Any, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every sub-schema of the policy format that accepts a number, with where it is."""
    if isinstance(schema, dict):
        types = schema.get("type")
        types = [types] if isinstance(types, str) else types or []
        if "number" in types or "integer" in types:
            yield path or "(root)", schema
        for key, sub in schema.items():
            yield from number_fields(sub, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from number_fields(sub, f"{path}/{index}")


NUMBER_FIELDS = dict(number_fields(policy_schema(STEP_TYPES)))
EXTREMES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    10**400,
    -(10**400),
    2**63,
]


def test_the_format_has_many_number_fields() -> None:
    assert len(NUMBER_FIELDS) >= 25


@pytest.mark.parametrize("where", sorted(NUMBER_FIELDS))
def test_every_number_field_rejects_non_finite_and_huge_values(where: str) -> None:
    schema = NUMBER_FIELDS[where]
    for value in EXTREMES:
        doc = Document("p.yml", data=value)
        check_schema(doc, schema)
        assert doc.problems, (where, value)
        assert all(str(p).startswith("p.yml:1:1: ") for p in doc.problems)
    smallest = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    fine = Document("p.yml", data=smallest)
    check_schema(fine, schema)
    assert not fine.problems, (where, fine.problems)


def wait(value: str) -> str:
    return f"scenarios:\n- name: abc\n  steps:\n  - wait: {{seconds: {value}}}\n"


def pod_action(kill: str = "{probability: 1}", sample: str = "{size: 1}") -> str:
    return (
        "scenarios:\n- name: abc\n  steps:\n  - podAction:\n"
        "      matches: [{namespace: default}]\n"
        f"      filters: [{{randomSample: {sample}}}]\n"
        f"      actions: [{{kill: {kill}}}]\n"
    )


@pytest.mark.parametrize("spelling", [".nan", ".NaN", ".inf", "-.inf", "+.Inf"])
def test_non_finite_numbers_are_located_problems(spelling: str) -> None:
    shown = spelling.lower().lstrip("+")
    assert problems(wait(spelling)) == [
        f"p.yml:4:21: scenarios[0].steps[0].wait.seconds: must be a number, got {shown}; "
        "a number must be finite"
    ]
    kill = problems(pod_action(kill=f"{{probability: {spelling}}}"))
    assert kill[0].startswith("p.yml:7:38: scenarios[0].steps[0].podAction.actions[0].kill")
    ratio = problems(pod_action(sample=f"{{ratio: {spelling}}}"))
    assert any(
        p.startswith("p.yml:6:40: scenarios[0].steps[0].podAction.filters[0].randomSample.ratio")
        for p in ratio
    ), ratio


@pytest.mark.parametrize("value", ["1" + "0" * 400, "-" + "9" * 400, "1.0e+308", "1e3000"])
def test_huge_numbers_are_located_problems_not_overflow_errors(value: str) -> None:
    found = problems(wait(value))
    assert len(found) == 1
    assert found[0].startswith("p.yml:4:21: scenarios[0].steps[0].wait.seconds: must be ")
    config = problems(
        f"config: {{runStrategy: {{runs: {value}, maxSecondsBetweenRuns: {value}}}}}\n"
        "scenarios: []\n"
    )
    assert all(p.startswith("p.yml:1:") for p in config), config
    assert len(config) == 2


def test_large_but_sane_numbers_still_load() -> None:
    assert load(wait("86400")).scenarios[0].steps[0]
    assert load(wait("2147483647")).scenarios
    assert problems(wait("2147483648"))[0].endswith("must be <= 2147483647, got 2147483648")


def test_a_huge_number_is_shown_short() -> None:
    [found] = problems(wait("1" + "0" * 400))
    assert len(found) < 200, found
    assert "a number of 401 digits" in found


# -- the YAML itself --------------------------------------------------------------------


def seal_validate(path: Path, memory_mb: int = 1024) -> subprocess.CompletedProcess[str]:
    """`seal validate` in a child with bounded memory: a crash there cannot take pytest down."""

    def limit() -> None:
        size = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return subprocess.run(
        [sys.executable, "-m", "seal", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=REPO,
        preexec_fn=limit,
    )


def assert_located(result: subprocess.CompletedProcess[str], path: Path, message: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == f"{path}: INVALID (1 problem)", lines
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+:\d+: .*", lines[0]), lines
    assert message in lines[0], lines


def test_deeply_nested_yaml_is_one_located_problem(tmp_path: Path) -> None:
    for name, text in {
        "flow.yml": "scenarios: " + "[" * 25_000 + "]" * 25_000 + "\n",
        "maps.yml": "scenarios: " + "{a: " * 25_000 + "1" + "}" * 25_000 + "\n",
        "block.yml": "".join(f"{' ' * i}a:\n" for i in range(2000)),
    }.items():
        path = tmp_path / name
        path.write_text(text)
        result = seal_validate(path)
        assert_located(result, path, "nested more than 100 levels deep")


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yml"
    path.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS.encode()) < 600
    result = seal_validate(path, memory_mb=1024)
    assert_located(result, path, "aliases")


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.yml"
    path.write_text("scenarios: []\n" + "# padding\n" * 600_000)
    result = seal_validate(path)
    assert_located(result, path, "larger than 4 MiB")


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.yml"
    path.write_text("scenarios: [" + "0," * 600_000 + "0]\n")
    result = seal_validate(path)
    assert_located(result, path, "more than 500000 values")


def test_aliases_within_budget_still_work() -> None:
    shared = (
        "scenarios:\n"
        "- name: first\n  steps: &steps\n  - wait: {seconds: 1}\n"
        "- name: second\n  steps: *steps\n"
    )
    assert [s.name for s in load(shared).scenarios] == ["first", "second"]
    assert problems("scenarios: &a [*a]\n") == [
        "p.yml:1:16: (top level): the alias *a refers to a node that contains it; "
        "remove the cycle"
    ]

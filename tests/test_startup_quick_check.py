"""The quick schema check says yes only where jsonschema finds no error.

Every policy seal accepts (policies/ and the compatibility corpus) must pass the quick
check (else a valid policy would still pay for jsonschema), and every one-value change
of them (each value replaced by numbers at and beyond the edges, other types, lists and
mappings; each key dropped; an unknown key added) is either refused by the quick check
or free of jsonschema errors.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seal import bounded_yaml
from seal.errors import PolicyError
from seal.policy.loader import load_policy_text
from seal.policy.quick_check import conforms
from seal.policy.schema import _validator_class
from seal.steps.registry import STEP_TYPES, schema

REPO = Path(__file__).resolve().parents[1]
COMPAT = REPO.parent / "shared" / "compat" / "powerfulseal" / "valid"
REPLACEMENTS: list[Any] = [
    0,
    1,
    -1,
    0.5,
    1.0,
    -0.5,
    2**31 - 1,
    2**31,
    -(2**31),
    2**53,
    10**30,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    None,
    "",
    "x",
    "kill",
    "round-robin",
    "1",
    [],
    [None],
    {},
    {"x": 1},
]


def _accepted(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        load_policy_text(text, STEP_TYPES, str(path), {})
    except PolicyError:
        return None
    return bounded_yaml.load(text, unique_keys=False)


SEEDS = [
    (path.name, data)
    for path in sorted(REPO.glob("policies/*.yml")) + sorted(COMPAT.glob("*.yml"))
    if (data := _accepted(path)) is not None
]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _copy_at(data: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    """A copy of `data`, and the container of what `path` points at in that copy."""
    copied = copy.deepcopy(data)
    holder = copied
    for step in path[:-1]:
        holder = holder[step]
    return copied, holder


def _mutants(data: Any) -> Iterator[Any]:
    for path in list(_paths(data))[1:]:
        for replacement in REPLACEMENTS:
            mutant, holder = _copy_at(data, path)
            holder[path[-1]] = copy.deepcopy(replacement)
            yield mutant
        mutant, holder = _copy_at(data, path)
        if isinstance(holder, dict):
            del holder[path[-1]]
            yield mutant
        mutant, holder = _copy_at(data, path)
        if isinstance(holder[path[-1]], dict):
            holder[path[-1]]["unknownKey"] = 1
            yield mutant


def test_the_corpus_is_there() -> None:
    assert len(SEEDS) >= 10, [name for name, _ in SEEDS]


@pytest.mark.parametrize(("name", "data"), SEEDS, ids=[name for name, _ in SEEDS])
def test_every_valid_policy_passes_the_quick_check(name: str, data: Any) -> None:
    assert conforms(schema(), data), name


def test_the_quick_check_never_passes_what_jsonschema_refuses() -> None:
    validator = _validator_class()(schema())
    passed = refused = 0
    for _, data in SEEDS:
        for mutant in _mutants(data):
            if conforms(schema(), mutant):
                errors = [e.message for e in validator.iter_errors(mutant)]
                assert errors == [], mutant
                passed += 1
            else:
                refused += 1
    # both sides were exercised: values jsonschema accepts and values it refuses
    assert passed > 500 and refused > 500, (passed, refused)


@pytest.mark.parametrize(
    ("fragment", "value"),
    [
        ({"type": "integer"}, 1.0),  # jsonschema: an integer; here: left to it
        ({"type": "number", "maximum": 2**40}, 2**35),  # beyond seal's default bound
        ({"enum": [1]}, 1.0),
        ({"type": "string", "pattern": "^a"}, "a"),  # a keyword it does not check
        ({"minimum": 0}, 1),  # no type: numbers are left to jsonschema
    ],
)
def test_cases_it_leaves_to_jsonschema(fragment: dict[str, Any], value: Any) -> None:
    assert not conforms(fragment, value)
    assert not conforms({"type": "object", "properties": {"a": fragment}}, {"a": value})


def test_what_it_refuses_and_accepts() -> None:
    one_pod = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1}, "s": {"type": "string"}},
        "additionalProperties": False,
        "required": ["n"],
    }
    assert conforms(one_pod, {"n": 1, "s": "x"})
    assert not conforms(one_pod, {"n": 0})
    assert not conforms(one_pod, {"n": True})
    assert not conforms(one_pod, {"s": "x"})
    assert not conforms(one_pod, {"n": 1, "t": 1})
    assert not conforms(one_pod, {"n": 1, "s": None})

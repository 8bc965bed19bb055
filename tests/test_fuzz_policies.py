"""Property: whatever is done to a valid policy, loading it either works or fails with
located problems (what `seal validate` reports with exit status 2); never another
exception, and never slowly.

Every policy seal accepts today (the compatibility corpus and `policies/`) is
mutated in its structure (keys dropped, renamed, added and given twice; values
retyped, made extreme numbers, unicode, deep nesting, aliases and alias bombs)
and in its text. The suite runs a fixed, derandomized budget;
`benchmarks/fuzz_policies.py` runs the same property with a large one.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seal import bounded_yaml
from seal.errors import DocumentError, PolicyError, UsageError
from seal.policy.loader import load_policy_text
from seal.steps.registry import STEP_TYPES

REPO = Path(__file__).resolve().parents[1]
COMPAT = REPO.parent / "shared" / "compat" / "powerfulseal" / "valid"
SOURCE = "fuzz.yml"
#: one located line: file, line, column, then printable text only
LOCATED = re.compile(rf"{re.escape(SOURCE)}:[1-9]\d*:[1-9]\d*: .*")
#: the bounded time of one example (loading, not generating)
DEADLINE_SECONDS = 3.0


def _accepted(path: Path) -> bool:
    try:
        load_policy_text(path.read_text(encoding="utf-8"), STEP_TYPES, str(path), {})
    except PolicyError:
        return False
    return True


def seed_policies() -> list[tuple[str, Any]]:
    """(name, parsed data) of every policy seal accepts today."""
    paths = sorted(REPO.glob("policies/*.yml")) + sorted(COMPAT.glob("*.yml"))
    return [
        (path.name, bounded_yaml.load(path.read_text(encoding="utf-8"), unique_keys=False))
        for path in paths
        if _accepted(path)
    ]


SEEDS = seed_policies()

EXTREMES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    5e-324,
    10**400,
    -(10**400),
    2**63,
    2**31,
    -1,
    0,
    0.5,
    True,
    None,
    "",
    {},
    [],
    [{}],
    [[]],
    {"": None},
    "\u202e\u0000\ufeff\U0001f9ad",
    "${NOT_SET}",
    "${NOT_SET:-.nan}",
]
scalars = st.one_of(
    st.sampled_from(EXTREMES),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def slots(holder: list[Any]) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value under `holder` (a list around the document)."""
    stack: list[Any] = [holder]
    seen: set[int] = set()
    while stack:
        container = stack.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            yield container, key
            if isinstance(container[key], dict | list):
                stack.append(container[key])


def nested(value: Any, depth: int, as_map: bool) -> Any:
    for _ in range(depth):
        value = {"a": value} if as_map else [value]
    return value


def alias_bomb(levels: int) -> Any:
    laughs: Any = ["lol"] * 9
    for _ in range(levels):
        laughs = [laughs] * 9
    return laughs


Mutation = Callable[[st.DataObject, Any, Any, Any], Any]


def _drop(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    del container[key]
    return root


def _retype(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    container[key] = copy.deepcopy(data.draw(values))  # EXTREMES holds mutable values
    return root


def _rename(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    if isinstance(container, dict):
        container[data.draw(st.text(max_size=10))] = container.pop(key)
    return root


def _add_key(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    target = container[key]
    if isinstance(target, dict):
        name = data.draw(st.sampled_from([*target, "x", "ü"]) if target else st.just("x"))
        target[name] = copy.deepcopy(data.draw(values))
    return root


def _nest(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    depth = data.draw(st.sampled_from([1, 2, 5, 40, 99, 101, 300]))
    container[key] = nested(container[key], depth, data.draw(st.booleans()))
    return root


def _share(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    """The same object in two places: written as an anchor and an alias."""
    others = [c[k] for c, k in slots(root)]  # root: the holder
    choice = data.draw(st.sampled_from([*others, "bomb", "cycle"]))
    if choice == "bomb":
        choice = alias_bomb(data.draw(st.integers(1, 9)))
    elif choice == "cycle":
        choice = container
    container[key] = choice
    return root


def _wrap(data: st.DataObject, container: Any, key: Any, root: Any) -> Any:
    value = container[key]
    if isinstance(value, list) and value and data.draw(st.booleans()):
        container[key] = value[0]
    else:
        container[key] = [value]
    return root


MUTATIONS: list[Mutation] = [_drop, _retype, _rename, _add_key, _nest, _share, _wrap]


def _shares(root: Any) -> bool:
    """True when an object appears twice (JSON would copy it: an alias bomb, expanded)."""
    ids = [id(c[k]) for c, k in slots([root]) if isinstance(c[k], dict | list)]
    return len(ids) != len(set(ids))


def _dump(root: Any, as_json: bool) -> str:
    if as_json and not _shares(root):
        import json

        try:
            return json.dumps(root)
        except (ValueError, TypeError, RecursionError):
            pass
    return str(yaml.safe_dump(root, sort_keys=False, allow_unicode=True, width=120))


def _text_mutation(data: st.DataObject, text: str) -> str:
    lines = text.splitlines(keepends=True)
    kind = data.draw(st.sampled_from(["none", "duplicate", "insert", "cut"]))
    if not lines or kind == "none":
        return text
    at = data.draw(st.integers(0, len(lines) - 1))
    if kind == "duplicate":  # a key given twice, an item repeated
        lines.insert(at, lines[at])
    elif kind == "insert":
        junk = data.draw(
            st.sampled_from(
                [
                    "&a ",
                    "*a ",
                    "*b",
                    "{",
                    "]",
                    ": ",
                    "\t",
                    "\x85",
                    "!!python/name:x ",
                    "<<: *a\n",
                    "? ",
                    "%TAG ! x\n",
                    "--- ",
                    "9" * 400,
                    "1e400 ",
                ]
            )
        )
        column = data.draw(st.integers(0, len(lines[at])))
        lines[at] = lines[at][:column] + junk + lines[at][column:]
    else:
        del lines[at]
    return "".join(lines)


@st.composite
def mutated_policies(draw: st.DrawFn) -> str:
    data = draw(st.data())
    _, seed = draw(st.sampled_from(SEEDS))
    holder = [copy.deepcopy(seed)]
    for _ in range(draw(st.integers(1, 4))):
        targets = list(slots(holder))
        if not targets:
            break
        container, key = draw(st.sampled_from(targets))
        draw(st.sampled_from(MUTATIONS))(data, container, key, holder)
    try:
        text = _dump(holder[0], draw(st.booleans())) if holder else ""
    except (RecursionError, ValueError):
        text = yaml.safe_dump(seed, sort_keys=False)
    return _text_mutation(data, text)


def check(text: str) -> str:
    """Load `text` as a policy; fail unless it loads or fails with located problems only.
    Returns "valid" or "invalid"."""
    try:
        load_policy_text(text, STEP_TYPES, SOURCE, {})
    except PolicyError as exc:
        assert exc.problems, "a PolicyError lists its problems"
        unlocated = [p for p in exc.problems if not (LOCATED.fullmatch(p) and p.isprintable())]
        assert not unlocated, unlocated
        return "invalid"
    except DocumentError as exc:  # pragma: no cover - the loader turns these into problems
        raise AssertionError(f"DocumentError escaped the loader: {exc}") from exc
    return "valid"


def test_there_are_seeds_from_the_corpus_and_the_examples() -> None:
    names = [name for name, _ in SEEDS]
    assert len(names) >= 6
    assert any(name.startswith("kill-") for name in names)


@settings(
    max_examples=800,
    deadline=DEADLINE_SECONDS * 1000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_policies())
def test_a_mutated_policy_loads_or_fails_with_located_problems(text: str) -> None:
    check(text)


def seal_validate(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "seal", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    return result, time.monotonic() - started


def test_seal_validate_refuses_the_nastiest_files_quickly_with_one_located_message(
    tmp_path: Path,
) -> None:
    files = {
        "bomb.yml": yaml.safe_dump({"scenarios": alias_bomb(9)}, width=1000),
        "deep.yml": "scenarios: " + "[" * 25_000 + "]" * 25_000 + "\n",
        "deepmap.json": '{"scenarios": ' + '{"a": ' * 25_000 + "1" + "}" * 25_001 + "\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        result, took = seal_validate(path)
        assert result.returncode == 2, (name, result.stderr[-500:])
        assert took < 10, (name, took)
        lines = result.stderr.splitlines()
        assert len(lines) == 2 and lines[1] == f"{path}: INVALID (1 problem)", lines
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \(top level\): ", lines[0]), lines
        assert "Traceback" not in result.stderr


@settings(
    max_examples=300,
    deadline=DEADLINE_SECONDS * 1000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(mutated_policies(), st.text(max_size=200)))
def test_the_reader_of_flag_files_and_kubeconfigs_reads_or_says_where(text: str) -> None:
    """The same inputs through the reader of `-c` flag files, kubeconfigs and kubectl
    payloads: values, or a `DocumentError` / `UsageError` with a line and column."""
    try:
        bounded_yaml.load_all(text, unique_keys=False)
    except DocumentError as exc:
        assert (exc.line >= 1 and exc.column >= 1) or "larger than" in exc.reason, exc
    try:
        bounded_yaml.load_flags(text.encode("utf-8", "surrogatepass"), "flags.yml")
    except UsageError as exc:
        assert re.match(r"flags\.yml:[1-9]\d*:[1-9]\d*: ", str(exc)), exc

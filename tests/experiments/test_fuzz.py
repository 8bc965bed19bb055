"""Experiments changed at random, value by value: seal reads each as an experiment and
either runs it or says what is wrong where, never failing any other way."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from seal.errors import PolicyError
from seal.policy.experiments.convert import experiment_from_text
from seal.policy.experiments.render import render
from seal.policy.loader import load_policy_text, policy_from_document
from seal.steps.registry import STEP_TYPES

CORPUS = Path(__file__).parent / "data"
SOURCES = [CORPUS / "greeter.json", *sorted((CORPUS / "corpus" / "valid").glob("*.*"))]
REPLACEMENTS: list[Any] = [
    None, True, False, 0, -1, 2.5, "", "x", "${missing}", "${", "$${x}", [], [1, "a"], {},
    {"type": "env"}, {"type": "env", "key": "SEAL_FUZZ_UNSET"}, {"ref": "nothing"},
    {"type": "regex", "pattern": "("}, {"type": "range", "range": [5, 1]}, "\x1b[2J",
]  # fmt: skip


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return changed


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_random_changes_give_located_problems_or_a_policy(source: Path) -> None:
    rng = random.Random(source.name)
    original = yaml.safe_load(source.read_text())
    for _ in range(300):
        document, everywhere = original, paths(original)
        for _ in range(rng.randint(1, 3)):
            document = replaced(document, rng.choice(everywhere), rng.choice(REPLACEMENTS))
            everywhere = paths(document) or [()]
        text = json.dumps(document, indent=1)
        environ = {"GREETER_URL": "http://127.0.0.1:9"}
        try:
            converted = experiment_from_text(text, "fuzz.json", environ)
            if converted is None:
                continue
            policy_from_document(converted.doc, STEP_TYPES)
        except PolicyError as exc:
            assert exc.problems and all(p.startswith("fuzz.json:") for p in exc.problems)
            continue
        # what runs also converts into a policy that loads
        as_text = experiment_from_text(text, "fuzz.json", None)
        assert as_text is not None
        load_policy_text(render(as_text), STEP_TYPES, "converted.yml", environ)

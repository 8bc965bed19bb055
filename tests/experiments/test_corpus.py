"""Every experiment of the corpus converts and validates, or fails with exactly the located
problems it should; what `seal convert` prints validates as a policy of its own."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from seal.errors import PolicyError
from seal.policy.experiments.convert import read_experiment
from seal.policy.experiments.render import render
from seal.policy.loader import load_policy, load_policy_text
from seal.steps.registry import STEP_TYPES

CORPUS = Path(__file__).parent / "data" / "corpus"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "compat"
VALID = sorted(p for p in (CORPUS / "valid").iterdir() if p.suffix in (".json", ".yaml"))
INVALID = sorted(p for p in (CORPUS / "invalid").iterdir() if p.suffix in (".json", ".yaml"))
SHARED_EXPERIMENTS = sorted(
    p
    for d in (SHARED.glob("chaostoolkit*") if SHARED.is_dir() else [])
    for p in d.rglob("*")
    if p.suffix in (".json", ".yaml", ".yml")
)
LOCATED = re.compile(r"^.+:\d+:\d+: ")


def unlocated(specs: object) -> str:
    return re.sub(r"Location\([^)]*\)", "", repr(specs))


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEAL_TEST_UNSET")}


def test_the_corpus_is_there() -> None:
    assert len(VALID) >= 3 and len(INVALID) >= 3


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_a_valid_experiment_loads_and_its_conversion_is_a_valid_policy(path: Path) -> None:
    policy = load_policy(str(path), STEP_TYPES, environment())
    (scenario,) = policy.scenarios
    assert policy.run_strategy.runs == 1
    converted = read_experiment(str(path), None)
    assert converted is not None
    assert scenario.name == converted.title[:80]
    assert len(scenario.steps) == len(converted.origins["method"])
    text = render(converted)
    again = load_policy_text(text, STEP_TYPES, source="converted.yml", environ=environment())
    assert [s.key for s in again.scenarios[0].steps] == [s.key for s in scenario.steps]
    assert [s.key for s in again.scenarios[0].rollbacks] == [s.key for s in scenario.rollbacks]
    # the same steps, but for where they were written
    assert unlocated(again.scenarios[0].steps) == unlocated(scenario.steps)
    assert unlocated(again.scenarios[0].steady_state) == unlocated(scenario.steady_state)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_an_invalid_experiment_fails_with_its_located_problems(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text().splitlines()
    with pytest.raises(PolicyError) as caught:
        load_policy(str(path), STEP_TYPES, environment())
    problems = caught.value.problems
    assert len(problems) == len(expected), problems
    for problem, wanted in zip(problems, expected, strict=True):
        assert problem.startswith(f"{path}:{wanted}"), (problem, wanted)


@pytest.mark.skipif(not SHARED_EXPERIMENTS, reason="no Chaos Toolkit corpus in ../shared/compat")
@pytest.mark.parametrize("path", SHARED_EXPERIMENTS, ids=lambda p: p.name)
def test_a_shared_experiment_converts_or_fails_with_located_problems(path: Path) -> None:
    try:
        policy = load_policy(str(path), STEP_TYPES, environment())
    except PolicyError as exc:
        assert all(LOCATED.match(p) for p in exc.problems), exc.problems
        return
    converted = read_experiment(str(path), None)
    assert converted is not None and policy.scenarios
    load_policy_text(render(converted), STEP_TYPES, source="converted.yml", environ=environment())

"""Real policies of other tools: the valid ones load, the invalid ones are rejected precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from seal.errors import PolicyError
from seal.policy.loader import load_policy
from seal.steps.registry import STEP_TYPES

COMPAT = Path(__file__).resolve().parents[1].parent / "shared" / "compat" / "powerfulseal"
needs_compat = pytest.mark.skipif(
    not COMPAT.is_dir(), reason=f"the compatibility corpus is not at {COMPAT} (../shared absent)"
)


def corpus(kind: str) -> list[Path]:
    return sorted((COMPAT / kind).glob("*.yml")) if COMPAT.is_dir() else []


@needs_compat
def test_the_corpus_is_there() -> None:
    assert len(corpus("valid")) >= 10
    assert corpus("invalid")


@needs_compat
@pytest.mark.parametrize("path", corpus("valid"), ids=lambda p: p.name)
def test_valid_policies_load(path: Path) -> None:
    policy = load_policy(str(path), STEP_TYPES, environ={})
    assert policy.source == str(path)


@needs_compat
@pytest.mark.parametrize("path", corpus("invalid"), ids=lambda p: p.name)
def test_invalid_policies_are_rejected_with_a_located_message(path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(str(path), STEP_TYPES, environ={})
    assert all(problem.startswith(f"{path}:") for problem in info.value.problems)


@needs_compat
def test_misplaced_retries_key_is_named_at_its_line() -> None:
    path = COMPAT / "invalid" / "retries-key-misplaced.yml"
    with pytest.raises(PolicyError) as info:
        load_policy(str(path), STEP_TYPES, environ={})
    assert info.value.problems == [
        f"{path}:250:7: scenarios[0].steps[6].podAction.retriesTimeout: unknown key "
        "'retriesTimeout'; it belongs under 'retries:'"
    ]

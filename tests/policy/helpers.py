from __future__ import annotations

from pathlib import Path

import pytest

from seal.errors import PolicyError
from seal.policy.loader import load_policy_text
from seal.policy.model import Policy
from seal.steps.registry import STEP_TYPES

REPO = Path(__file__).resolve().parents[2]


def load(text: str, env: dict[str, str] | None = None) -> Policy:
    return load_policy_text(text, STEP_TYPES, "p.yml", env or {})


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load(text, env)
    return info.value.problems

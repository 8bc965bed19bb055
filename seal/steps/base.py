"""What a step type is: its policy key, its schema fragment, and how its spec is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seal.policy.build import Node
from seal.policy.schema import Schema


@dataclass(frozen=True)
class StepType:
    """One kind of step. The registry lists these; the policy schema is made from them."""

    key: str
    schema: Schema
    build: Callable[[Node], Any]
    description: str = ""

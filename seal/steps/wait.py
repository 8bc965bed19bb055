"""The `wait` step: sleep for a while."""

from __future__ import annotations

from typing import ClassVar

from seal.frozen import frozen
from seal.policy.build import Node
from seal.policy.problems import Location
from seal.policy.schema import number, obj
from seal.steps.base import StepType


@frozen
class WaitSpec:
    """The wait step: sleep this many seconds."""

    key: ClassVar[str] = "wait"
    seconds: float
    location: Location


def build(node: Node) -> WaitSpec:
    return WaitSpec(float(node.get("seconds", 0)), node.location)


STEP = StepType(
    key="wait",
    schema=obj(
        {"seconds": number("how long to wait; may be fractional", minimum=0)},
        required=["seconds"],
        description="sleep for a number of seconds",
    ),
    build=build,
    runner="seal.steps.run_basic:run_wait",
)

"""The `wait` step: sleep for a while."""

from __future__ import annotations

import logging
from typing import ClassVar

from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import number, obj
from seal.steps.base import StepContext, StepType

log = logging.getLogger(__name__)


@frozen
class WaitSpec:
    """The wait step: sleep this many seconds."""

    key: ClassVar[str] = "wait"
    seconds: float
    location: Location


def build(node: DocNode) -> WaitSpec:
    return WaitSpec(float(node.get("seconds", 0)), node.location)


def run(spec: WaitSpec, ctx: StepContext) -> StepOutcome:
    log.info("waiting %gs", spec.seconds)
    ctx.clock.sleep(spec.seconds)
    return StepOutcome.passed(f"waited {spec.seconds:g}s")


STEP = StepType(
    key="wait",
    spec=WaitSpec,
    schema=obj(
        {"seconds": number("how long to wait; may be fractional", minimum=0)},
        required=["seconds"],
        description="sleep for a number of seconds",
    ),
    builder=build,
    runner=run,
    description="sleep for a number of seconds",
)

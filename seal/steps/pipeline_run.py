"""Running the filter part of a pipeline, with its logging and metrics (pods and nodes alike)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeVar

from seal.model import Node, Pod
from seal.policy.pipeline import (
    DayTimeFilter,
    FilterSpec,
    ProbabilityFilter,
    PropertyMatcher,
    RandomSampleFilter,
)
from seal.selection.filters import (
    day_time_allows,
    filter_by_property,
    probability_passes,
    random_sample,
)
from seal.steps.context import StepContext

log = logging.getLogger(__name__)
T = TypeVar("T", Pod, Node)


def apply_filters(targets: Sequence[T], filters: Sequence[FilterSpec], ctx: StepContext) -> list[T]:
    """Each filter in order; an empty result is logged and counted (not a failure)."""
    current = list(targets)
    for spec in filters:
        before = len(current)
        if isinstance(spec, PropertyMatcher):
            current = filter_by_property(current, spec.name, spec.value, spec.negative)
        elif isinstance(spec, DayTimeFilter):
            if not day_time_allows(ctx.clock.local_now(), spec.only_days, spec.start, spec.end):
                current = []
        elif isinstance(spec, RandomSampleFilter):
            current = random_sample(current, ctx.rng, size=spec.size, ratio=spec.ratio)
        elif isinstance(spec, ProbabilityFilter) and not probability_passes(
            ctx.rng, spec.probability
        ):
            ctx.metrics.probability_filter_not_passed()
            current = []
        log.debug("filter at line %d kept %d of %d", spec.location.line, len(current), before)
        if not current:
            ctx.metrics.empty_filter()
            log.info(
                "no targets left after the filter at line %d; nothing to do",
                spec.location.line,
                extra={"outcome": "empty-filter"},
            )
            return []
    return current


def describe(targets: Sequence[Pod | Node], limit: int = 10) -> str:
    names = [t.key for t in targets[:limit]]
    more = f" and {len(targets) - limit} more" if len(targets) > limit else ""
    return ", ".join(names) + more

"""Matcher -> filter -> action pipelines: what podAction and nodeAction share.

The property matcher, the filters (specs, schema, builders, and running them),
retries and the wait action. No I/O.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from typing import TypeVar, assert_never

from seal.frozen import frozen
from seal.model import Node, Pod
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import Schema, array, boolean, number, obj, one_key, string
from seal.selection.filters import (
    DAY_NAMES,
    day_time_allows,
    filter_by_property,
    probability_passes,
    random_sample,
)
from seal.steps.base import RetriesSpec, StepContext

log = logging.getLogger(__name__)

POD_PROPERTIES = ("name", "state", "namespace")
NODE_PROPERTIES = ("name", "ip", "group", "az", "state")


@frozen
class PropertyMatcher:
    """Also the property filter: keep targets whose property matches `value` (or not)."""

    name: str
    value: str
    negative: bool
    location: Location


@frozen
class DayTimeFilter:
    """Filter: keeps everything on the given days between start and end, nothing otherwise."""

    only_days: tuple[str, ...]
    start: dt.time
    end: dt.time
    location: Location


@frozen
class RandomSampleFilter:
    """Filter: a random sample, of a fixed size or a ratio (rounded down)."""

    size: int | None
    ratio: float | None
    location: Location


@frozen
class ProbabilityFilter:
    """Filter: lets the whole set through with this probability, else nothing."""

    probability: float
    location: Location


FilterSpec = PropertyMatcher | DayTimeFilter | RandomSampleFilter | ProbabilityFilter


@frozen
class WaitAction:
    """Action: sleep between the actions of a pipeline."""

    seconds: float
    location: Location


# ---------------------------------------------------------------- schema pieces


def property_schema(names: tuple[str, ...]) -> Schema:
    return obj(
        {
            "name": string("the property", enum=list(names)),
            "value": string("a regular expression, anchored at the start"),
            "negative": boolean("keep the targets that do NOT match", default=False),
        },
        required=["name", "value"],
    )


_TIME = obj(
    {
        "hour": number(integer=True, minimum=0, maximum=23),
        "minute": number(integer=True, minimum=0, maximum=59),
        "second": number(integer=True, minimum=0, maximum=59),
    },
    required=["hour", "minute", "second"],
)


def filters_schema(property_names: tuple[str, ...]) -> Schema:
    day = string(enum=list(DAY_NAMES))
    return array(
        one_key(
            "filter",
            {
                "property": property_schema(property_names),
                "dayTime": obj(
                    {"onlyDays": array(day, minItems=1), "startTime": _TIME, "endTime": _TIME},
                    required=["onlyDays", "startTime", "endTime"],
                    description="keep everything only on those days between those local times",
                ),
                "randomSample": obj(
                    {
                        "size": number("how many targets", integer=True, minimum=0),
                        "ratio": number("fraction of the targets", minimum=0, maximum=1),
                    },
                    description="a random subset: give exactly one of size and ratio",
                ),
                "probability": number("keep all with this probability", minimum=0, maximum=1),
            },
        ),
        "filters, applied in order",
    )


WAIT_ACTION_SCHEMA = obj(
    {"seconds": number("how long to sleep", minimum=0)},
    required=["seconds"],
)

_SLEEP = number("seconds between attempts", minimum=0)
RETRIES_SCHEMA = one_key(
    "retries kind",
    {
        "retriesCount": obj(
            {"count": number("attempts", integer=True, minimum=1), "sleep": _SLEEP},
            required=["count"],
        ),
        "retriesTimeout": obj(
            {"timeout": number("seconds", minimum=0), "sleep": _SLEEP},
            required=["timeout"],
        ),
    },
    description="re-run the whole pipeline until it succeeds",
)


def pipeline_schema(matchers: Schema, filters: Schema, actions: Schema, description: str) -> Schema:
    return obj(
        {
            "matches": array(matchers, "matchers; the union of their targets", minItems=1),
            "filters": filters,
            "actions": array(actions, "actions, run in order on the filtered targets"),
            "retries": RETRIES_SCHEMA,
        },
        required=["matches", "actions"],
        description=description,
    )


# ---------------------------------------------------------------- builders


def check_regex(node: DocNode, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        node.problem(f"'{pattern}' is not a valid regular expression: {exc}")


def build_property(node: DocNode) -> PropertyMatcher:
    value = str(node.get("value", ""))
    check_regex(node.child("value"), value)
    return PropertyMatcher(
        str(node.get("name")), value, bool(node.get("negative", False)), node.location
    )


def _time(node: DocNode) -> dt.time:
    return dt.time(int(node.get("hour", 0)), int(node.get("minute", 0)), int(node.get("second", 0)))


def build_filter(node: DocNode) -> FilterSpec:
    key, body = node.only_key()
    if key == "property":
        return build_property(body)
    if key == "dayTime":
        start, end = _time(body.child("startTime")), _time(body.child("endTime"))
        if start >= end:
            body.problem(f"startTime {start} must be before endTime {end}")
        days = tuple(str(d) for d in body.get("onlyDays", []))
        return DayTimeFilter(days, start, end, body.location)
    if key == "randomSample":
        size, ratio = body.get("size"), body.get("ratio")
        if (size is None) == (ratio is None):
            body.problem(
                "has both 'size' and 'ratio'; give exactly one"
                if size is not None
                else "needs 'size' (a count) or 'ratio' (a fraction); give exactly one"
            )
        return RandomSampleFilter(
            None if size is None else int(size),
            None if ratio is None else float(ratio),
            body.location,
        )
    return ProbabilityFilter(float(body.scalar(1)), body.location)


def build_retries(node: DocNode) -> RetriesSpec | None:
    if not node.scalar():
        return None
    key, body = node.only_key()
    sleep = float(body.get("sleep", 1))
    if key == "retriesCount":
        return RetriesSpec(int(body.get("count", 1)), None, sleep, body.location)
    return RetriesSpec(None, float(body.get("timeout", 0)), sleep, body.location)


def build_wait(node: DocNode) -> WaitAction:
    return WaitAction(float(node.get("seconds", 0)), node.location)


T = TypeVar("T")


def build_each(nodes: list[DocNode], build: Callable[[DocNode], T]) -> tuple[T, ...]:
    return tuple(build(n) for n in nodes)


# ---------------------------------------------------------------- running filters

Target = TypeVar("Target", Pod, Node)


def _apply(spec: FilterSpec, targets: list[Target], ctx: StepContext) -> list[Target]:
    if isinstance(spec, PropertyMatcher):
        return filter_by_property(targets, spec.name, spec.value, spec.negative)
    if isinstance(spec, DayTimeFilter):
        allowed = day_time_allows(ctx.clock.local_now(), spec.only_days, spec.start, spec.end)
        return targets if allowed else []
    if isinstance(spec, RandomSampleFilter):
        return random_sample(targets, ctx.rng, size=spec.size, ratio=spec.ratio)
    if isinstance(spec, ProbabilityFilter):
        if probability_passes(ctx.rng, spec.probability):
            return targets
        ctx.metrics.probability_filter_not_passed()
        return []
    assert_never(spec)


def apply_filters(
    targets: Sequence[Target], filters: Sequence[FilterSpec], ctx: StepContext
) -> list[Target]:
    """Each filter in order; an empty result is logged and counted (not a failure)."""
    current = list(targets)
    for spec in filters:
        before = len(current)
        current = _apply(spec, current, ctx)
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
    """The first few targets' names, for a log line."""
    names = [t.key for t in targets[:limit]]
    more = f" and {len(targets) - limit} more" if len(targets) > limit else ""
    return ", ".join(names) + more

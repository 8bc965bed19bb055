"""Matcher -> filter -> action pipelines: the specs and schema pieces pod and node steps share.

No I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar

from seal.frozen import frozen
from seal.labels import SelectorError, parse_selector
from seal.policy.build import Node
from seal.policy.problems import Location
from seal.policy.schema import Schema, array, boolean, number, obj, one_key, string

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
POD_PROPERTIES = ("name", "state", "namespace")
NODE_PROPERTIES = ("name", "ip", "group", "az", "state")


@frozen
class NamespaceMatcher:
    """All pods of one namespace, a comma list of namespaces, `*`, or a pattern with `*`."""

    namespace: str
    location: Location

    @property
    def is_pattern(self) -> bool:
        return "*" in self.namespace and self.namespace != "*"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.namespace.split(",") if n.strip())


@frozen
class DeploymentMatcher:
    """Matcher: the pods selected by a Deployment's selector."""

    name: str
    namespace: str
    location: Location


@frozen
class LabelsMatcher:
    """Matcher: the pods of a namespace that match a label selector."""

    selector: str
    namespace: str
    location: Location


@frozen
class PropertyMatcher:
    """Also the property filter: keep targets whose property matches `value` (or not)."""

    name: str
    value: str
    negative: bool
    location: Location


PropertyFilter = PropertyMatcher


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
PodMatcher = NamespaceMatcher | DeploymentMatcher | LabelsMatcher


@frozen
class RetriesSpec:
    """Re-run the whole pipeline: at most `count` times, or until `timeout` seconds pass."""

    count: int | None
    timeout: float | None
    sleep: float
    location: Location


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
    day = string(enum=list(DAYS))
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


def check_regex(node: Node, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        node.problem(f"'{pattern}' is not a valid regular expression: {exc}")


def build_property(node: Node) -> PropertyMatcher:
    value = str(node.get("value", ""))
    check_regex(node.child("value"), value)
    return PropertyMatcher(
        str(node.get("name")), value, bool(node.get("negative", False)), node.location
    )


def build_namespace_matcher(node: Node) -> NamespaceMatcher:
    matcher = NamespaceMatcher(str(node.value), node.location)
    if matcher.is_pattern:
        check_regex(node, matcher.namespace)
    elif not matcher.names:
        node.problem("must name a namespace, a comma-separated list, or '*'")
    return matcher


def build_labels_matcher(node: Node) -> LabelsMatcher:
    selector = str(node.get("selector", ""))
    try:
        parse_selector(selector)
    except SelectorError as exc:
        node.child("selector").problem(f"not a valid label selector: {exc}")
    return LabelsMatcher(selector, str(node.get("namespace")), node.location)


def _time(node: Node) -> dt.time:
    return dt.time(int(node.get("hour", 0)), int(node.get("minute", 0)), int(node.get("second", 0)))


def build_filter(node: Node) -> FilterSpec:
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
    return ProbabilityFilter(float(body.value), body.location)


def build_retries(node: Node) -> RetriesSpec | None:
    if not isinstance(node.value, dict) or not node.value:
        return None
    key, body = node.only_key()
    sleep = float(body.get("sleep", 1))
    if key == "retriesCount":
        return RetriesSpec(int(body.get("count")), None, sleep, body.location)
    return RetriesSpec(None, float(body.get("timeout")), sleep, body.location)


def build_wait(node: Node) -> WaitAction:
    return WaitAction(float(node.get("seconds", 0)), node.location)


T = TypeVar("T")


def build_each(nodes: list[Node], build: Callable[[Node], T]) -> tuple[T, ...]:
    return tuple(build(n) for n in nodes)


def build_pipeline(
    node: Node,
    make: Callable[..., T],
    build_matcher: Callable[[Node], object],
    build_action: Callable[[Node], object],
) -> T:
    """A pod or node pipeline spec: its matchers, filters, actions and retries."""
    return make(
        matches=build_each(node.children("matches"), build_matcher),
        filters=build_each(node.children("filters"), build_filter),
        actions=build_each(node.children("actions"), build_action),
        retries=build_retries(node.child("retries")),
        location=node.location,
    )

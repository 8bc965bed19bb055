"""The filters of matcher -> filter -> action pipelines, as pure functions over targets.

No I/O: time and randomness come from the caller.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

from seal.model import Node, Pod

T = TypeVar("T", Pod, Node)

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def property_values(target: Pod | Node, name: str) -> tuple[str, ...]:
    """The values of a target's property, as the policy format names them.

    Pods: `name`, `state` (plus `namespace`). Nodes: `name`, `ip`, `group`
    (any of its groups), `az`, `state`. An unknown property has no values.
    """
    if isinstance(target, Pod):
        pod_values = {"name": target.name, "state": target.state, "namespace": target.namespace}
        value = pod_values.get(name)
        return (value,) if value is not None else ()
    if name == "group":
        return target.groups
    node_values = {
        "name": target.name,
        "ip": target.ip,
        "az": target.zone,
        "state": target.state.value,
    }
    value = node_values.get(name)
    return (value,) if value is not None else ()


def property_matches(target: Pod | Node, name: str, pattern: str, negative: bool = False) -> bool:
    """True when a value of property `name` matches `pattern` at its start (or not, if negative)."""
    regex = _compiled(pattern)
    hit = any(regex.match(value) for value in property_values(target, name))
    return hit != negative


def filter_by_property(targets: Sequence[T], name: str, pattern: str, negative: bool) -> list[T]:
    return [t for t in targets if property_matches(t, name, pattern, negative)]


def day_time_allows(
    now: dt.datetime, only_days: Sequence[str], start: dt.time, end: dt.time
) -> bool:
    """True on one of `only_days` (English day names), from start (incl.) to end (excl.)."""
    day = DAY_NAMES[now.weekday()]
    if day not in {d.lower() for d in only_days}:
        return False
    return start <= now.time() < end


def random_sample(
    targets: Sequence[T], rng: random.Random, *, size: int | None = None, ratio: float | None = None
) -> list[T]:
    """`size` targets (all if fewer), or floor(count * ratio) targets, chosen at random.

    The order of the result follows the order of `targets`, so that a seeded run
    picks and acts in the same order every time.
    """
    if size is None and ratio is None:
        raise ValueError("random_sample needs size or ratio")
    count = size if size is not None else math.floor(len(targets) * (ratio or 0.0))
    count = max(0, min(count, len(targets)))
    chosen = set(rng.sample(range(len(targets)), count))
    return [t for i, t in enumerate(targets) if i in chosen]


def probability_passes(rng: random.Random, probability: float) -> bool:
    """True with the given probability (1 always, 0 never)."""
    if probability >= 1:
        return True
    if probability <= 0:
        return False
    return rng.random() < probability

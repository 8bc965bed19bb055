"""Tolerances: what value a probe may observe and still pass.

Written in a policy as an exact value (`200`, `"ok"`, `true`), a list of allowed
values (`[200, 204]`), a range (`{from: 1, to: 3}`, either end may be left out)
or a regular expression (`{regex: "^ok"}`, searched in the value's text).
No I/O.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Literal

from seal.errors import StepFailed
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import Schema, number, string
from seal.steps.base import StepContext

log = logging.getLogger(__name__)

Scalar = str | int | float | bool
ToleranceKind = Literal["exact", "oneOf", "range", "regex"]

_SCALAR_TYPES = ["string", "number", "boolean"]


def schema(description: str) -> Schema:
    """The schema of a tolerance: a scalar, a list of scalars, a range or a regex."""
    return {
        "type": [*_SCALAR_TYPES, "array", "object"],
        "description": description
        + ": an exact value, a list of allowed values, {from, to} or {regex}",
        "items": {"type": _SCALAR_TYPES},
        "minItems": 1,
        "properties": {
            "from": number("the smallest value allowed (inclusive)"),
            "to": number("the largest value allowed (inclusive)"),
            "regex": string("a regular expression searched in the value", minLength=1),
        },
        "additionalProperties": False,
        "minProperties": 1,
    }


@frozen
class Tolerance:
    """What a probe's observed value must be."""

    kind: ToleranceKind
    location: Location
    values: tuple[Scalar, ...] = ()
    low: float | None = None
    high: float | None = None
    pattern: str = ""

    def __str__(self) -> str:
        if self.kind == "exact":
            return f"= {_show(self.values[0])}"
        if self.kind == "oneOf":
            return "one of " + ", ".join(_show(v) for v in self.values)
        if self.kind == "regex":
            return f"matching /{self.pattern}/"
        if self.high is None:
            return f">= {self.low:g}"
        if self.low is None:
            return f"<= {self.high:g}"
        return f"between {self.low:g} and {self.high:g}"

    def problem(self, observed: Scalar | None) -> str | None:
        """Why `observed` is out of tolerance (naming it and the tolerance), or None."""
        if self.holds(observed):
            return None
        return f"observed {_show(observed)}, expected {self}"

    def holds(self, observed: Scalar | None) -> bool:
        if observed is None:
            return False
        if self.kind in ("exact", "oneOf"):
            return any(_same(observed, allowed) for allowed in self.values)
        if self.kind == "regex":
            return re.search(self.pattern, _text(observed)) is not None
        value = _number(observed)
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def exactly(value: Scalar, location: Location) -> Tolerance:
    return Tolerance("exact", location, values=(value,))


def at_least(low: float, location: Location) -> Tolerance:
    return Tolerance("range", location, low=low)


def build(node: DocNode) -> Tolerance:
    """The tolerance written at `node` (schema-valid); semantic problems go on `node`."""
    value = node.scalar()
    if isinstance(value, list):
        return Tolerance("oneOf", node.location, values=tuple(value))
    if not isinstance(value, dict):
        return exactly(value if value is not None else "", node.location)
    if "regex" in value:
        if "from" in value or "to" in value:
            node.problem("a tolerance is either a range {from, to} or {regex}, not both")
        pattern = str(value["regex"])
        try:
            re.compile(pattern)
        except re.error as exc:
            node.child("regex").problem(f"'{pattern}' is not a valid regular expression: {exc}")
        return Tolerance("regex", node.location, pattern=pattern)
    low, high = node.get("from"), node.get("to")
    if low is not None and high is not None and float(low) > float(high):
        node.problem(f"the range is empty: from ({low}) is more than to ({high})")
    return Tolerance(
        "range",
        node.location,
        low=None if low is None else float(low),
        high=None if high is None else float(high),
    )


def verdict(ctx: StepContext, what: str, problem: str | None, observed: str) -> StepOutcome:
    """A probe's outcome: passed, or `StepFailed` naming what it saw and expected.

    Probes only read, so a dry run runs them; but the steps before changed nothing,
    so a failure then is reported, not held against the scenario."""
    if problem is None:
        log.info("%s: %s", what, observed, extra={"action": "probe", "outcome": "success"})
        return StepOutcome.passed(f"{what}: {observed}")
    message = f"{what}: {problem}"
    if ctx.dry_run:
        log.warning(
            "dry run: the probe fails now (%s); the steps before it changed nothing",
            message,
            extra={"action": "probe", "outcome": "dry-run"},
        )
        return StepOutcome.skipped(f"dry run: the probe fails now: {message}")
    raise StepFailed(message)


def _number(value: Scalar) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def _same(observed: Scalar, allowed: Scalar) -> bool:
    if isinstance(allowed, bool) or isinstance(observed, bool):
        return _text(observed) == _text(allowed)
    if isinstance(allowed, int | float):
        value = _number(observed)
        return value is not None and value == float(allowed)
    return _text(observed) == allowed


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: Scalar | None) -> str:
    if value is None:
        return "nothing"
    text = _text(value)
    if isinstance(value, str):
        shown = text if len(text) <= 80 else text[:77] + "..."
        return repr(shown)
    return text

"""Reading a scenario's background-load statistics (as the JSON journal holds them) for the
HTML report: its overall figures, and its latency percentiles and errors over time.
No I/O.

The statistics' `seconds` list (or `series`, `windows`, `samples`, `intervals`,
`timeline`) holds their measurements, each with a time (`t`, `at`, `time`, `elapsed`,
`offset`, `start`, `second` or `seconds`: seconds from the load's start, seconds since
the epoch, or ISO 8601), latency percentiles in milliseconds (`p50`, `p95Ms`,
`latencyP99Ms`, or a `latency` / `latencyMs` object of them) and error counts
(`errors`, `failures`; an `errorRate` when there is no count).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from seal.reports.svg import Points

_SERIES_KEYS = ("seconds", "series", "windows", "samples", "intervals", "timeline")
_TIME_KEYS = ("at", "t", "time", "elapsed", "offset", "start", "started", "second", "seconds")
_PERCENTILE = re.compile(r"p(\d+(?:\.\d+)?)", re.IGNORECASE)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _seconds(value: Any, origin: float) -> float | None:
    """A measurement's time as seconds from the scenario's start."""
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp() - origin if origin else None
    number = _number(value)
    if number is None:
        return None
    return number - origin if number > 1e9 and origin else number


def measurements(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statistics' measurements over time (empty when it has none)."""
    for key in _SERIES_KEYS:
        series = record.get(key)
        if isinstance(series, list):
            return [item for item in series if isinstance(item, Mapping)]
    return []


def _flat(item: Mapping[str, Any]) -> dict[str, float]:
    """A measurement's numbers, those of a nested object (`latency: {p50: ...}`) named
    by their own key."""
    numbers: dict[str, float] = {}
    for key, value in item.items():
        if isinstance(value, Mapping):
            numbers.update({str(k): n for k, v in value.items() if (n := _number(v)) is not None})
        elif (number := _number(value)) is not None:
            numbers[str(key)] = number
    return numbers


def _percentile(key: str) -> str | None:
    match = _PERCENTILE.search(key)
    if match is None or key.lower().startswith(("rate", "error")):
        return None
    return f"p{match.group(1)}"


def series(record: Mapping[str, Any], origin: float) -> tuple[dict[str, Points], dict[str, Points]]:
    """Latency percentiles and error figures over time, each a name -> points mapping."""
    latency: dict[str, Points] = {}
    errors: dict[str, Points] = {}
    rates: dict[str, Points] = {}
    for item in measurements(record):
        time_key = next((k for k in _TIME_KEYS if k in item), None)
        at = _seconds(item[time_key], origin) if time_key else None
        if at is None:
            continue
        for key, value in _flat(item).items():
            if key == time_key:
                continue
            lowered = key.lower()
            if "error" in lowered or "fail" in lowered:
                (rates if "rate" in lowered else errors).setdefault(key, []).append((at, value))
            elif (name := _percentile(key)) is not None:
                latency.setdefault(name, []).append((at, value))
    return latency, errors or rates


def figures(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The statistics' overall figures (every top-level value that is not a series)."""
    rows = []
    for key, value in record.items():
        if key in _SERIES_KEYS:
            continue
        if isinstance(value, Mapping):
            text = ", ".join(f"{k} {v}" for k, v in value.items() if not isinstance(v, list | dict))
        elif isinstance(value, list):
            text = f"{len(value)} item(s)"
        elif isinstance(value, float):
            text = f"{value:.4g}" + (" ms" if _percentile(key) else "")
        else:
            text = str(value)
        rows.append((key, text))
    return rows

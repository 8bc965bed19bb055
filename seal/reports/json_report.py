"""A scenario run as a JSON journal: what ran, in order, with every target, action, probe
value and timing, its cleanup and its background load. No I/O.

The journal's shape is published as a JSON Schema (`seal schema --report`,
`seal.reports.schema`). Fields that outcomes gain later (a measurement a step
records) appear in the journal under their camelCase name without a change here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from seal import __version__
from seal.outcomes import ActionRecord, ScenarioOutcome, StepOutcome, UndoFailure

#: the journal's format; a reader checks it before reading the rest
FORMAT = "seal-scenario-run/1"

#: StepOutcome fields the journal names itself (others are added under their camelCase name)
_STEP_FIELDS = {"result", "reason", "targets", "seconds", "actions", "key", "index"}
_SCENARIO_FIELDS = {
    "name",
    "result",
    "reason",
    "duration",
    "steps",
    "cleanup",
    "steady_state",
    "run_id",
    "started",
}


def timestamp(epoch: float) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC to the millisecond; None when unknown (0)."""
    if not epoch or not math.isfinite(epoch):
        return None
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def camel(name: str) -> str:
    """`recovery_seconds` -> `recoverySeconds`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def plain(value: Any, depth: int = 0) -> Any:
    """A value as JSON can hold it: dataclasses and mappings as objects (camelCase keys),
    sequences as arrays, non-finite numbers as null, anything else as its text."""
    if depth > 20:
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {camel(str(key)): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item, depth + 1) for item in value]
    for method in ("record", "as_dict", "to_dict"):
        convert = getattr(value, method, None)
        if callable(convert):
            return plain(convert(), depth + 1)
    return str(value)


def _extras(value: object, known: set[str]) -> dict[str, Any]:
    """The dataclass fields of `value` the journal does not name itself."""
    if not dataclasses.is_dataclass(value):
        return {}
    return {
        camel(f.name): plain(getattr(value, f.name))
        for f in dataclasses.fields(value)
        if f.name not in known
    }


def action_record(action: ActionRecord) -> dict[str, Any]:
    return {
        "action": action.action,
        "target": action.target,
        "outcome": action.outcome,
        "reason": action.reason,
        "verdict": action.verdict,
        "at": timestamp(action.at),
    }


def step_reason(step: StepOutcome) -> str:
    """A step's reason without the `step N (key): ` the scenario's reason starts with (a
    step's own record says which step it is)."""
    return step.reason.removeprefix(f"step {step.index} ({step.key}): ")


def step_record(step: StepOutcome) -> dict[str, Any]:
    """One step (or steady-state probe): what it was, when, how long, what it came to;
    a measurement beyond the named fields only when the step made it (not None)."""
    record: dict[str, Any] = {
        "key": step.key,
        "index": step.index,
        "started": timestamp(step.started),
        "duration": round(step.duration, 6),
        "result": step.result,
        "reason": step_reason(step),
        "targets": step.targets,
        "waitedSeconds": step.seconds,
        "actions": [action_record(action) for action in step.actions],
    }
    extras = _extras(step, _STEP_FIELDS | {"started", "duration"})
    return {
        **record,
        **{k: v for k, v in extras.items() if k not in record and v is not None},
    }


def steady_state_records(outcome: ScenarioOutcome) -> list[dict[str, Any]]:
    """The steady-state probes in the order they ran, each marked `before` or `after` the
    steps (the hypothesis is checked in full each time, its probes numbered from 1)."""
    records, when, last = [], "before", 0
    for probe in outcome.steady_state:
        if probe.index and probe.index <= last:
            when = "after"
        last = probe.index
        records.append({"when": when, **step_record(probe)})
    return records


def _failure(failure: UndoFailure) -> dict[str, str]:
    return {
        "id": failure.id,
        "kind": failure.kind,
        "description": failure.description,
        "reason": failure.reason,
    }


def load_record(outcome: ScenarioOutcome) -> dict[str, Any] | None:
    """The scenario's background-load statistics as JSON, or None without background load."""
    load = getattr(outcome, "load", None)
    if load is None:
        return None
    record = plain(load)
    if not isinstance(record, dict):
        return {"summary": record}
    for name in ("achieved_rate", "error_rate"):  # figures worked out from the others
        value = getattr(load, name, None)
        if isinstance(value, int | float) and camel(name) not in record:
            record[camel(name)] = plain(float(value))
    return record


def journal(outcome: ScenarioOutcome, policy: str) -> dict[str, Any]:
    """The JSON journal of one scenario run (see `seal.reports.schema.REPORT_SCHEMA`)."""
    finished = outcome.started + outcome.duration if outcome.started else 0.0
    record: dict[str, Any] = {
        "format": FORMAT,
        "seal": __version__,
        "policy": policy,
        "runId": outcome.run_id,
        "scenario": outcome.name,
        "result": outcome.result,
        "reason": outcome.reason,
        "started": timestamp(outcome.started),
        "finished": timestamp(finished),
        "duration": round(outcome.duration, 6),
        "targets": outcome.targets,
        "steadyState": steady_state_records(outcome),
        "steps": [step_record(step) for step in outcome.steps],
        "cleanup": {
            "undone": outcome.cleanup.undone,
            "failed": [_failure(failure) for failure in outcome.cleanup.failed],
        },
        "load": load_record(outcome),
    }
    extras = _extras(outcome, _SCENARIO_FIELDS | {"load"})
    return {**record, **{k: v for k, v in extras.items() if k not in record}}

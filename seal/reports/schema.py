"""The JSON Schema of a scenario run's journal (`seal schema --report`). No I/O."""

from __future__ import annotations

from typing import Any

from seal.reports.json_report import FORMAT

_TIME = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "ISO 8601 in UTC, to the millisecond; null when not known",
}
_SECONDS = {"type": "number", "minimum": 0, "description": "seconds"}
_TEXT = {"type": "string"}

_ACTION = {
    "type": "object",
    "description": "One action a step carried out on one target.",
    "required": ["action", "target", "outcome", "reason", "verdict", "at"],
    "properties": {
        "action": {**_TEXT, "description": "what was done: kill, stop, start, execute, ..."},
        "target": {**_TEXT, "description": "namespace/name of a pod, a node's name, ..."},
        "outcome": {**_TEXT, "description": "ok, failed, or dry-run"},
        "reason": _TEXT,
        "verdict": {
            "enum": ["verified", "not-verified", "unverified"],
            "description": "what the evidence says about the action's effect",
        },
        "at": _TIME,
    },
}

_STEP = {
    "type": "object",
    "description": (
        "One step, or one steady-state probe, as it ran. Measurements a step records "
        "beyond these appear as further camelCase properties."
    ),
    "required": [
        "key",
        "index",
        "started",
        "duration",
        "result",
        "reason",
        "targets",
        "waitedSeconds",
        "actions",
    ],
    "properties": {
        "key": {**_TEXT, "description": "the step type: podAction, probeHTTP, waitFor, ..."},
        "index": {"type": "integer", "minimum": 0, "description": "its place, from 1"},
        "started": _TIME,
        "duration": _SECONDS,
        "result": {"enum": ["passed", "failed", "skipped", "interrupted"]},
        "reason": {**_TEXT, "description": "why, and the values a probe saw"},
        "targets": {"type": "integer", "minimum": 0},
        "waitedSeconds": {
            "type": ["number", "null"],
            "description": "how long a waitFor waited for its condition",
        },
        "actions": {"type": "array", "items": {"$ref": "#/$defs/action"}},
    },
}

_PROBE = {
    "allOf": [
        {"$ref": "#/$defs/step"},
        {
            "type": "object",
            "required": ["when"],
            "properties": {"when": {"enum": ["before", "after"]}},
        },
    ],
}

_CLEANUP = {
    "type": "object",
    "description": "The undos carried out at the end of the scenario, and those that failed.",
    "required": ["undone", "failed"],
    "properties": {
        "undone": {"type": "integer", "minimum": 0},
        "failed": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "kind", "description", "reason"],
                "properties": {k: _TEXT for k in ("id", "kind", "description", "reason")},
            },
        },
    },
}

_LOAD = {
    "type": ["object", "null"],
    "description": (
        "The background load's statistics: its target, users and rate, its totals "
        "(requests, errors, errorRate, achievedRate, latency percentiles p50, p95, p99 in "
        "milliseconds) and `seconds`, one measurement per second it ran (t: seconds since "
        "the load started, requests, errors, p50, p95, p99); null without background load."
    ),
    "properties": {
        "requests": {"type": "integer", "minimum": 0},
        "errors": {"type": "integer", "minimum": 0},
        "seconds": {"type": "array", "items": {"type": "object"}},
    },
}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:seal:report:scenario-run:1",
    "title": "seal scenario run",
    "description": "The journal seal writes for every scenario run with --report-dir.",
    "type": "object",
    "required": [
        "format",
        "seal",
        "policy",
        "runId",
        "scenario",
        "result",
        "reason",
        "started",
        "finished",
        "duration",
        "targets",
        "steadyState",
        "steps",
        "cleanup",
        "load",
    ],
    "properties": {
        "format": {"const": FORMAT},
        "seal": {**_TEXT, "description": "the version of seal that ran it"},
        "policy": {**_TEXT, "description": "the policy file"},
        "runId": {**_TEXT, "description": "scenario#id, as the undo journal names the run"},
        "scenario": _TEXT,
        "result": {
            "enum": [
                "passed",
                "failed",
                "skipped",
                "interrupted",
                "not-steady",
                "deviated",
                "aborted",
            ]
        },
        "reason": _TEXT,
        "started": _TIME,
        "finished": _TIME,
        "duration": _SECONDS,
        "targets": {"type": "integer", "minimum": 0},
        "steadyState": {"type": "array", "items": {"$ref": "#/$defs/probe"}},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
        "cleanup": {"$ref": "#/$defs/cleanup"},
        "load": {"$ref": "#/$defs/load"},
    },
    "$defs": {
        "action": _ACTION,
        "step": _STEP,
        "probe": _PROBE,
        "cleanup": _CLEANUP,
        "load": _LOAD,
    },
}

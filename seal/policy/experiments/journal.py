"""The journal of an experiment's run, in the shape Chaos Toolkit writes one: status,
the steady state before and after, every activity run with its status, output and
times, and the rollbacks. Writes the journal file it is given; nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import tempfile
from collections.abc import Sequence
from typing import Any

from seal import __version__
from seal.outcomes import ScenarioOutcome, StepOutcome
from seal.policy.experiments.convert import Converted, Origin

#: a seal result -> the journal's status (Chaos Toolkit's four)
STATUS = {
    "passed": "completed",
    "failed": "failed",
    "not-steady": "failed",
    "deviated": "failed",
    "aborted": "aborted",
    "interrupted": "interrupted",
    "skipped": "aborted",
}
_REDACTED = "***"


def _when(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _run(origin: Origin, outcome: StepOutcome, hypothesis: bool = False) -> dict[str, Any]:
    output: dict[str, Any] = {"result": outcome.result, "reason": outcome.reason}
    if outcome.targets:
        output["targets"] = outcome.targets
    if outcome.actions:
        output["actions"] = [
            {"action": a.action, "target": a.target, "outcome": a.outcome, "verdict": a.verdict}
            for a in outcome.actions
        ]
    run: dict[str, Any] = {
        "activity": origin.activity,
        "status": "succeeded" if outcome.ok else "failed",
        "output": output,
        "start": _when(outcome.started),
        "end": _when(outcome.started + outcome.duration),
        "duration": round(outcome.duration, 6),
    }
    if not outcome.ok:
        run["exception"] = [outcome.reason]
    if hypothesis:
        run["tolerance_met"] = outcome.ok
    return run


def _steady_states(converted: Converted, outcome: ScenarioOutcome) -> dict[str, Any]:
    probes = converted.origins.get("hypothesis", [])
    seen = list(outcome.steady_state)
    before, after = seen[: len(probes)], seen[len(probes) : 2 * len(probes)]

    def state(outcomes: list[StepOutcome]) -> dict[str, Any] | None:
        if not probes or not outcomes:
            return None
        runs = [_run(o, s, hypothesis=True) for o, s in zip(probes, outcomes, strict=False)]
        return {"steady_state_met": all(s.ok for s in outcomes), "probes": runs}

    return {"before": state(before), "after": state(after), "during": []}


def _activities(
    converted: Converted, outcome: ScenarioOutcome, method_steps: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The method's runs and the rollbacks' runs (pauses are not activities)."""
    method, rollbacks = converted.origins.get("method", []), converted.origins.get("rollbacks", [])
    runs: list[dict[str, Any]] = []
    undone: list[dict[str, Any]] = []
    for step in outcome.steps:
        if 1 <= step.index <= method_steps and step.index <= len(method):
            origin = method[step.index - 1]
            if origin.role == "activity":
                runs.append(_run(origin, step))
        elif step.index > method_steps and step.index - method_steps <= len(rollbacks):
            origin = rollbacks[step.index - method_steps - 1]
            if origin.role == "activity":
                undone.append(_run(origin, step))
    return runs, undone


def _redacted(experiment: Any) -> Any:
    """The experiment as written, less the literal values of its secrets."""
    if not isinstance(experiment, dict) or not isinstance(experiment.get("secrets"), dict):
        return experiment
    secrets = {
        scope: {
            name: value if isinstance(value, dict) else _REDACTED for name, value in table.items()
        }
        if isinstance(table, dict)
        else _REDACTED
        for scope, table in experiment["secrets"].items()
    }
    return {**experiment, "secrets": secrets}


def build_journal(
    converted: Converted,
    outcomes: Sequence[ScenarioOutcome],
    *,
    method_steps: int,
    started: float,
    ended: float,
    interrupted: bool,
) -> dict[str, Any]:
    """The journal of one run of the experiment (`outcomes`: its scenario's run, if it
    came to one)."""
    outcome = outcomes[-1] if outcomes else None
    journal: dict[str, Any] = {
        "seal-version": __version__,
        "platform": platform.platform(),
        "node": platform.node(),
        "experiment": _redacted(converted.experiment),
        "start": _when(started),
        "end": _when(ended),
        "duration": round(ended - started, 6),
        "status": "interrupted" if interrupted or outcome is None else STATUS[outcome.result],
        "deviated": outcome is not None and outcome.result == "deviated",
        "steady_states": {"before": None, "after": None, "during": []},
        "run": [],
        "rollbacks": [],
    }
    if outcome is None:
        return journal
    journal["steady_states"] = _steady_states(converted, outcome)
    journal["run"], journal["rollbacks"] = _activities(converted, outcome, method_steps)
    journal["seal"] = {
        "result": outcome.result,
        "reason": outcome.reason,
        "undone": outcome.cleanup.undone,
        "undo_failures": [f"{f.description}: {f.reason}" for f in outcome.cleanup.failed],
    }
    return journal


def write_journal(path: str, journal: dict[str, Any]) -> None:
    """Write it whole or not at all (a reader never sees half a journal)."""
    import json

    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".journal-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(journal, out, indent=2, default=str)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise

"""A policy run as JUnit XML, the format CI pipelines read: one testsuite per policy run,
one testcase per scenario run. No I/O.

A failing result (failed, not-steady, deviated, aborted) is a `<failure>` with the
scenario's reason, a skipped run `<skipped>`, an interrupted one an `<error>`.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seal import __version__
from seal.outcomes import FAILING_RESULTS, ScenarioOutcome, StepOutcome
from seal.reports.json_report import step_reason

#: characters XML 1.0 cannot hold, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class PolicyRun:
    """One run of a policy: which file, when it started, its host, and whether it ended."""

    policy: str
    started: float
    hostname: str = ""
    finished: float | None = None
    interrupted: bool = False


def xml_text(text: str) -> str:
    """Text XML can hold: characters it forbids become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def step_line(step: StepOutcome) -> str:
    """A step as one line of text: `2 probeHTTP: failed in 1.20s (reason) [2 target(s)]`."""
    line = f"{step.index} {step.key or 'step'}: {step.result} in {step.duration:.2f}s"
    if reason := step_reason(step):
        line += f" ({reason})"
    if step.targets:
        line += f" [{step.targets} target(s)]"
    for action in step.actions:
        line += f"\n    {action.action} {action.target}: {action.outcome}, {action.verdict}"
        if action.reason:
            line += f" ({action.reason})"
    return line


def scenario_text(outcome: ScenarioOutcome) -> str:
    """What a scenario run did, as lines: its steady-state probes, steps and cleanup."""
    lines = [
        f"run {outcome.run_id}: {outcome.result}"
        + (f": {outcome.reason}" if outcome.reason else "")
    ]
    lines += [f"steady state {step_line(probe)}" for probe in outcome.steady_state]
    lines += [f"step {step_line(step)}" for step in outcome.steps]
    cleanup = outcome.cleanup
    lines.append(f"cleanup: {cleanup.undone} undo(s) done, {len(cleanup.failed)} failed")
    lines += [f"  undo {f.kind} ({f.description}) failed: {f.reason}" for f in cleanup.failed]
    return "\n".join(lines)


def _names(outcomes: Sequence[ScenarioOutcome]) -> list[str]:
    """Testcase names: the scenario's name, `(run N)` added when it ran more than once."""
    totals = Counter(o.name for o in outcomes)
    seen: Counter[str] = Counter()
    names = []
    for outcome in outcomes:
        seen[outcome.name] += 1
        repeat = f" (run {seen[outcome.name]})" if totals[outcome.name] > 1 else ""
        names.append(outcome.name + repeat)
    return names


def _testcase(suite: ET.Element, outcome: ScenarioOutcome, name: str, classname: str) -> None:
    case = ET.SubElement(
        suite, "testcase", name=xml_text(name), classname=classname, time=f"{outcome.duration:.3f}"
    )
    message = xml_text(outcome.reason or outcome.result)
    if outcome.result in FAILING_RESULTS:
        failure = ET.SubElement(case, "failure", message=message, type=outcome.result)
        failure.text = xml_text(scenario_text(outcome))
    elif outcome.result == "skipped":
        ET.SubElement(case, "skipped", message=message)
    elif outcome.result == "interrupted":
        error = ET.SubElement(case, "error", message=message, type="interrupted")
        error.text = xml_text(scenario_text(outcome))
    out = ET.SubElement(case, "system-out")
    out.text = xml_text(scenario_text(outcome))


def _utc(epoch: float) -> str:
    """JUnit's timestamp: ISO 8601 to the second, no zone (it is UTC)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def junit_xml(run: PolicyRun, outcomes: Sequence[ScenarioOutcome]) -> bytes:
    """The JUnit XML document of a policy run and the scenario runs it has had so far."""
    counts = Counter("failures" if o.result in FAILING_RESULTS else o.result for o in outcomes)
    total = sum(o.duration for o in outcomes)
    attributes = {
        "tests": str(len(outcomes)),
        "failures": str(counts["failures"]),
        "errors": str(counts["interrupted"]),
        "skipped": str(counts["skipped"]),
        "time": f"{total:.3f}",
    }
    root = ET.Element("testsuites", {"name": "seal", **attributes})
    classname = xml_text(Path(run.policy).stem or "seal")
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": xml_text(f"seal autonomous {run.policy}"),
            "timestamp": _utc(run.started),
            "hostname": xml_text(run.hostname or "localhost"),
            **attributes,
        },
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("seal.version", __version__),
        ("seal.policy", run.policy),
        ("seal.finished", "yes" if run.finished is not None else "no (still running)"),
        ("seal.interrupted", "yes" if run.interrupted else "no"),
    ):
        ET.SubElement(properties, "property", name=key, value=xml_text(value))
    for outcome, name in zip(outcomes, _names(outcomes), strict=True):
        _testcase(suite, outcome, name, classname)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"

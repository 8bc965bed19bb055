"""The summary of a run: one row per scenario, as a table for people and a record for
machines. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from seal.runtime.runner import RunSummary

COLUMNS = ("scenario", "runs", "result", "duration", "targets", "undone", "left")


@dataclass(frozen=True)
class ScenarioRow:
    """Every run of one scenario in this seal run, added up."""

    scenario: str
    runs: int
    passed: int
    failed: int
    interrupted: int
    skipped: int
    not_steady: int
    deviated: int
    aborted: int
    duration_seconds: float
    targets: int
    undos_done: int
    undos_left: int
    last_reason: str

    @property
    def result(self) -> str:
        """`passed`, or the counts of each result when not every run passed."""
        counts = [
            (self.passed, "passed"),
            (self.failed, "failed"),
            (self.interrupted, "interrupted"),
            (self.skipped, "skipped"),
            (self.not_steady, "not-steady"),
            (self.deviated, "deviated"),
            (self.aborted, "aborted"),
        ]
        present = [(n, word) for n, word in counts if n]
        if len(present) == 1 and present[0][0] == self.runs:
            return present[0][1]
        return ", ".join(f"{n} {word}" for n, word in present)


def rows(summary: RunSummary) -> list[ScenarioRow]:
    """One row per scenario, in the order they first ran."""
    names = list(dict.fromkeys(o.name for o in summary.outcomes))
    table = []
    for name in names:
        runs = [o for o in summary.outcomes if o.name == name]
        reasons = [o.reason for o in runs if o.reason]
        table.append(
            ScenarioRow(
                scenario=name,
                runs=len(runs),
                passed=sum(o.result == "passed" for o in runs),
                failed=sum(o.result == "failed" for o in runs),
                interrupted=sum(o.result == "interrupted" for o in runs),
                skipped=sum(o.result == "skipped" for o in runs),
                not_steady=sum(o.result == "not-steady" for o in runs),
                deviated=sum(o.result == "deviated" for o in runs),
                aborted=sum(o.result == "aborted" for o in runs),
                duration_seconds=round(sum(o.duration for o in runs), 3),
                targets=sum(o.targets for o in runs),
                undos_done=sum(o.cleanup.undone for o in runs),
                undos_left=sum(len(o.cleanup.failed) for o in runs),
                last_reason=reasons[-1] if reasons else "",
            )
        )
    return table


def table(summary: RunSummary) -> list[str]:
    """The summary as aligned text lines, a header first and the failures' reasons last."""
    body = [
        (
            r.scenario,
            str(r.runs),
            r.result,
            f"{r.duration_seconds:.1f}s",
            str(r.targets),
            str(r.undos_done),
            str(r.undos_left),
        )
        for r in rows(summary)
    ]
    widths = [max([len(c), *(len(line[i]) for line in body)]) for i, c in enumerate(COLUMNS)]
    lines = [_line(COLUMNS, widths)] + [_line(line, widths) for line in body]
    lines += [f"{r.scenario}: {r.last_reason}" for r in rows(summary) if r.last_reason]
    loops = f"{summary.loops} loop(s)" + (", interrupted" if summary.interrupted else "")
    return [f"run summary: {loops}", *lines]


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def record(summary: RunSummary) -> dict[str, object]:
    """The summary as one JSON-ready record."""
    return {
        "loops": summary.loops,
        "interrupted": summary.interrupted,
        "passed": summary.passed,
        "failed": summary.failed,
        "scenarios": [{**asdict(r), "result": r.result} for r in rows(summary)],
    }

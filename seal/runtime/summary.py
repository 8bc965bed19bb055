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
    table = []
    for name, tally in summary.tallies.items():
        results = tally.results
        table.append(
            ScenarioRow(
                scenario=name,
                runs=tally.runs,
                passed=results["passed"],
                failed=results["failed"],
                interrupted=results["interrupted"],
                skipped=results["skipped"],
                not_steady=results["not-steady"],
                deviated=results["deviated"],
                aborted=results["aborted"],
                duration_seconds=round(tally.duration, 3),
                targets=tally.targets,
                undos_done=tally.undos_done,
                undos_left=tally.undos_left,
                last_reason=tally.last_reason,
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

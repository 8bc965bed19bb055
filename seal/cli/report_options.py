"""`--report-dir DIR`: the reports of a run (a JSON journal per scenario run, a JUnit XML
file and an HTML page per policy run), written as each scenario run finishes.

The directory is created (0755) and checked writable while the flags are read, so a bad
one is a usage error (exit status 2) before anything runs.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import click

from seal.cli.options import option
from seal.errors import UsageError


def _directory(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    if value is None or ctx.resilient_parsing:
        return None
    from seal.reports.writer import prepare_directory

    if not value.strip():
        raise click.BadParameter("give a directory, e.g. --report-dir reports", ctx, param)
    try:
        return prepare_directory(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def report_options(function: Any) -> Any:
    """The `--report-dir` flag; the command is called with `reports=` (a `ReportWriter`
    for the run's policy file, or None)."""

    @functools.wraps(function)
    def wrapper(*args: Any, report_dir: Path | None, **kwargs: Any) -> Any:
        reports = None
        if report_dir is not None:  # the report modules only for a run that writes reports
            from seal.reports.writer import ReportWriter

            reports = ReportWriter(report_dir, str(kwargs["policy_file"]), started=time.time())
        return function(*args, reports=reports, **kwargs)

    return option(
        "--report-dir",
        metavar="DIR",
        callback=_directory,
        help=(
            "Write reports here as the run goes: a JSON journal of every scenario run, "
            "and a JUnit XML file and a self-contained HTML page for the policy run "
            "(created if missing; see docs/reports.md)."
        ),
    )(wrapper)


def finish_reports(reports: Any, summary: Any) -> None:
    """Rewrite the policy run's JUnit file and page as the run ended."""
    if reports is not None:
        reports.finish(finished=time.time(), interrupted=bool(summary.interrupted))

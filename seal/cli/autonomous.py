"""`seal autonomous` runs a policy; `seal label` runs label mode."""

from __future__ import annotations

import logging
from typing import Any

import click

from seal.cli.experiment_options import experiment_journal, journal_options
from seal.cli.options import option
from seal.cli.rbac import preflight
from seal.cli.report_options import finish_reports, report_options
from seal.cli.running import MachineFlags, RunFlags, _services, machine_options, run_options
from seal.cli.tracing_options import tracing_options
from seal.errors import PolicyError, UsageError

log = logging.getLogger("seal.cli")


@click.command()
@option(
    "--policy-file",
    required=True,
    type=click.Path(dir_okay=False),
    legacy_env=["POLICY_FILE"],
    help="The policy to run (re-read at every loop).",
)
@run_options
@report_options
@option(
    "--fail-on-empty-match",
    is_flag=True,
    help="A matcher that matches nothing fails its step (as config.safety.failOnEmptyMatch).",
)
@machine_options
@tracing_options
@journal_options
@option("--headless", is_flag=True, expose_value=False, hidden=True)
def autonomous(
    policy_file: str,
    machines: MachineFlags,
    tracer: Any,
    journal_path: str | None,
    **flags: Any,
) -> int:
    """Run the scenarios of a policy against the cluster, undoing every change they make.

    Exit status: 0 when every scenario passed, 1 when one failed, 2 for a bad policy or
    usage, 3 when the cluster cannot be reached, 4 when it would deny a request the policy
    needs (preflight); 128+N (130 for SIGINT) when signal N stopped it, after every undo.
    """
    from seal.policy.loader import PolicyFile
    from seal.runtime.autonomous import run_policy
    from seal.runtime.scenario import clean_leftovers
    from seal.steps.registry import STEP_TYPES

    source = PolicyFile(policy_file, STEP_TYPES)
    try:
        policy, _ = source.load()
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{policy_file}: the policy is invalid; nothing was run", err=True)
        return 2
    for warning in policy.warnings:
        click.echo(warning, err=True)
    journal = experiment_journal(policy_file, journal_path)
    reports = flags.pop("reports")  # --report-dir's writer, or None
    with _services(RunFlags(**flags), machines, tracer, policy) as running:
        preflight(running.services, policy)
        clean_leftovers(running.services)
        on_outcome = reports.scenario_finished if reports is not None else None
        summary = run_policy(running.services, source, policy, on_outcome)
    journal_written = journal is None or journal.write(policy, summary)
    finish_reports(reports, summary)
    _report(summary)
    if running.signal is not None:
        return 128 + running.signal
    return int(summary.exit_code) or (0 if journal_written else 1)


def _report(summary: Any) -> None:
    """The run summary: a table on standard output, or one JSON log line with
    --log-format json."""
    from seal import log as seal_log
    from seal.runtime import summary as run_summary

    log.info(
        "done: %d loop(s), %d scenario run(s) passed, %d failed%s",
        summary.loops,
        summary.passed,
        summary.failed,
        ", interrupted" if summary.interrupted else "",
        extra={"summary": run_summary.record(summary)} if seal_log.log_format() == "json" else {},
    )
    if seal_log.log_format() != "json" and log.isEnabledFor(logging.INFO):
        for line in run_summary.table(summary):
            click.echo(line)


@click.command()
@option(
    "--namespace",
    "--kubernetes-namespace",
    "namespaces",
    default="",
    help="A namespace, a comma-separated list, or empty for every namespace.",
)
@option("--min-seconds-between-runs", type=click.FloatRange(min=0), default=0.0, show_default=True)
@option(
    "--max-seconds-between-runs", type=click.FloatRange(min=0), default=300.0, show_default=True
)
@option("--runs", type=click.IntRange(min=1), help="Stop after this many passes.")
@run_options
@option("--no-cloud", is_flag=True, expose_value=False, hidden=True, legacy_env=["NO_CLOUD"])
def label(
    namespaces: str,
    min_seconds_between_runs: float,
    max_seconds_between_runs: float,
    runs: int | None,
    **flags: Any,
) -> int:
    """Label mode: kill pods that opted in with seal/enabled=true (label or annotation).

    \b
    Each pod says how through labels or annotations (a label wins over an
    annotation of the same key):
      seal/enabled           "true" makes the pod a candidate (default "false")
      seal/force-kill        "true" kills at once, grace period 0 (default "false")
      seal/kill-probability  chance of being killed in a pass, 0 to 1 (default "1")
      seal/days              days a kill may happen, e.g. "mon,tue" (default
                             "mon,tue,wed,thu,fri"; commas only fit in annotations)
      seal/start-time        local time from which kills may happen, HH-MM-SS
                             (default "10-00-00", inclusive)
      seal/end-time          local time until which kills may happen, HH-MM-SS
                             (default "17-30-00", exclusive)
    Pods labelled seal/protected=true, in protected namespaces, or seal's own
    pod are never killed.
    """
    from seal.runtime.label import parse_namespaces, run_label_mode

    if min_seconds_between_runs > max_seconds_between_runs:
        raise UsageError("--min-seconds-between-runs is more than --max-seconds-between-runs")
    with _services(RunFlags(**flags)) as running:
        if running.services.health is not None:  # ready without a policy file
            running.services.health.label_mode(namespaces)
        preflight(running.services, namespaces)
        run_label_mode(
            running.services,
            parse_namespaces(namespaces),
            runs=runs,
            min_seconds=min_seconds_between_runs,
            max_seconds=max_seconds_between_runs,
        )
    return 0 if running.signal is None else 128 + running.signal

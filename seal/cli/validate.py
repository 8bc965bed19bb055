"""`seal validate` and `seal schema`: check policy files, print the policy schema."""

from __future__ import annotations

import json

import click

from seal.cli.options import option
from seal.errors import PolicyError


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@option(
    "--policy-file",
    "policy_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    legacy_env=["POLICY_FILE"],
    help="A policy file to check (same as giving it as an argument).",
)
def validate(files: tuple[str, ...], policy_files: tuple[str, ...]) -> int:
    """Check policy files: print FILE: OK, or every problem with its line and column.

    Exit status 0 when every file is valid, 2 when any is not.
    """
    from seal.policy.loader import load_policy
    from seal.steps.registry import STEP_TYPES

    paths = list(dict.fromkeys([*files, *policy_files]))
    if not paths:
        raise click.UsageError("give at least one policy file (or --policy-file FILE)")
    invalid = 0
    for path in paths:
        try:
            policy = load_policy(path, STEP_TYPES)
        except PolicyError as exc:
            invalid += 1
            for problem in exc.problems:
                click.echo(problem, err=True)
            count = len(exc.problems)
            click.echo(f"{path}: INVALID ({count} problem{'s' if count != 1 else ''})", err=True)
            continue
        for warning in policy.warnings:
            click.echo(warning, err=True)
        click.echo(f"{path}: OK")
    return 2 if invalid else 0


@click.command()
@option(
    "--indent",
    type=click.IntRange(0, 16),
    default=2,
    show_default=True,
    help="Indentation of the JSON (0: one line).",
)
@option(
    "--report",
    is_flag=True,
    help="Print the schema of the JSON journal --report-dir writes for a scenario run instead.",
)
def schema(indent: int, report: bool) -> int:
    """Print the JSON Schema of the policy format (for editors and yaml-language-server)."""
    if report:
        from seal.reports.schema import REPORT_SCHEMA

        click.echo(json.dumps(REPORT_SCHEMA, indent=indent or None))
        return 0
    from seal.steps.registry import schema as policy_schema

    click.echo(json.dumps(policy_schema(), indent=indent or None))
    return 0

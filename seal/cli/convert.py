"""`seal convert`: print the seal policy a Chaos Toolkit experiment stands for."""

from __future__ import annotations

import os

import click

from seal.errors import PolicyError


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the policy to this file instead of standard output.",
)
def convert(experiment: str, output: str | None) -> int:
    """Print the seal policy equivalent to a Chaos Toolkit EXPERIMENT (JSON, or YAML with a
    top-level `method`), with comments saying where each part came from.

    Values the experiment reads from the environment stay references to it
    (`${VARIABLE:-default}`), read when the policy runs. The experiment is checked
    first, as `seal validate` does: exit status 2, and every problem with its line
    and column, when seal cannot run it.
    """
    from seal.policy.experiments.convert import read_experiment
    from seal.policy.experiments.render import render
    from seal.policy.loader import load_policy, load_policy_text
    from seal.steps.registry import STEP_TYPES

    if not os.path.isfile(experiment):
        raise click.UsageError(f"{experiment}: no such file")
    try:
        checked = load_policy(experiment, STEP_TYPES)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{experiment}: cannot be converted", err=True)
        return 2
    converted = read_experiment(experiment, None)
    if converted is None:
        click.echo(f"{experiment}: a seal policy already, not a Chaos Toolkit experiment", err=True)
        return 2
    for warning in checked.warnings:
        click.echo(warning, err=True)
    text = render(converted)
    # what is printed must load as it is: a problem here is seal's own, not the user's
    load_policy_text(text, STEP_TYPES, source=f"{experiment} (converted)")
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"{experiment}: written to {output}", err=True)
    return 0

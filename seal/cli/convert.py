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
    (`${VARIABLE:-default}`), read when the policy runs. A secret the experiment
    holds literally is not copied: it becomes `${SEAL_SECRET_SCOPE_NAME}` (secret
    `token` of scope `k8s`: `${SEAL_SECRET_K8S_TOKEN}`), with a warning, and the
    policy runs once that variable is set. A file written with -o is readable by its
    owner only (mode 0600). The experiment is checked
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
    for env, secret in sorted(converted.values.secret_env.items() if converted.values else ()):
        click.echo(
            f"{experiment}: warning: the secret {secret} is written as ${{{env}}}, not its "
            f"value: set {env} before running the policy",
            err=True,
        )
    text = render(converted)
    # what is printed must load as it is: a problem here is seal's own, not the user's
    secrets = converted.values.secret_literal if converted.values else {}
    environ = {**os.environ, **secrets}
    load_policy_text(text, STEP_TYPES, source=f"{experiment} (converted)", environ=environ)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            _write_private(output, text)
        except OSError as exc:
            click.echo(f"{output}: cannot write the policy: {exc.strerror or exc}", err=True)
            return 2
        click.echo(f"{experiment}: written to {output}", err=True)
    return 0


def _write_private(path: str, text: str) -> None:
    """`text` to `path`, readable by its owner only: a policy may name secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)

"""`seal cloud check`: can seal act on this cloud's machines, before any chaos runs?"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from seal.cli.cloud_options import CloudOptions, cloud_options, driver_from_options
from seal.cli.options import option
from seal.errors import CloudError, UsageError

if TYPE_CHECKING:
    from seal.adapters.kubeconfig import ClusterConnection


@click.group()
def cloud() -> None:
    """Cloud drivers: the machines behind the nodes."""


@contextmanager
def _cluster(
    options: CloudOptions, kubeconfig: str | None, context: str | None, sandbox: bool
) -> Iterator[ClusterConnection | None]:
    """The cluster the sandbox driver talks to: a demo sandbox started for the check, the
    one named by the flags, or none (when no cloud was chosen and no cluster is found)."""
    from seal.adapters.kubeconfig import resolve

    if sandbox:
        from sandbox.sandbox import Sandbox

        with Sandbox() as box:
            yield resolve(str(box.kubeconfig_path))
        return
    if options.name not in (None, "sandbox"):
        yield None
        return
    try:
        connection: ClusterConnection | None = resolve(kubeconfig, context)
    except UsageError:
        if options.name == "sandbox":
            raise
        connection = None
    yield connection


@cloud.command()
@cloud_options
@option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="Kubeconfig of a sandbox cluster (for --cloud sandbox).",
)
@option("--context", help="The kubeconfig context to use.")
@option("--sandbox", is_flag=True, help="Check against a demo sandbox started for the check.")
@click.pass_context
def check(
    ctx: click.Context,
    cloud_options: CloudOptions,
    kubeconfig: str | None,
    context: str | None,
    sandbox: bool,
) -> None:
    """Tell whether the cloud driver's credentials work and which permissions are
    missing, changing nothing. One line per check; exit code 1 if any failed."""
    with _cluster(cloud_options, kubeconfig, context, sandbox) as connection:
        try:
            driver = driver_from_options(cloud_options, connection=connection, sandbox=sandbox)
            checks = driver.check()
        except CloudError as exc:
            click.echo(f"FAIL cloud driver: {exc}")
            ctx.exit(1)
        click.echo(f"cloud driver: {driver.name}")
        for result in checks:
            click.echo(result.line())
    if any(result.ok is False for result in checks):
        ctx.exit(1)

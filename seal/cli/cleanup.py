"""`seal cleanup`: carry out what a crashed seal run left in the undo journal of a cluster,
list the pending undos, or drop one on purpose."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import click

from seal.cli.cloud_options import CloudOptions, cloud_options
from seal.cli.options import option
from seal.cli.running import cluster_options
from seal.cli.state_options import backend_options
from seal.errors import UsageError

log = logging.getLogger("seal.cli")


@click.command()
@cluster_options
@option(
    "--list",
    "list_pending",
    is_flag=True,
    help=(
        "List the pending undos of every cluster in the state directory (id, age, policy "
        "file, scenario, object); reaches no cluster, changes nothing."
    ),
)
@option(
    "--discard",
    metavar="ID",
    help=(
        "Drop one pending undo (its id, or the id's unique start, from --list) without "
        "carrying it out; what it would have undone stays as it is."
    ),
)
@cloud_options
@backend_options
def cleanup(
    context: str | None,
    kubeconfig: str | None,
    state_dir: str | None,
    list_pending: bool,
    discard: str | None,
    cloud_options: CloudOptions,
    state: Any,
) -> int:
    """Undo what a crashed seal run left behind on this cluster (from its journal).

    seal first reaches the cluster and checks which cluster it is (the uid of its
    kube-system namespace and its CA); it carries out only the undos recorded on that
    cluster. Machines seal stopped are started through the cloud driver of --cloud (the
    sandbox's on a sandbox cluster). Exit status: 0 when every undo was carried out, 1
    when some are left, 2 for a usage error, 3 when the cluster cannot be reached
    (nothing is undone). With --state-backend kubernetes (the default in a pod) the
    journal is the cluster's ConfigMap, and --list and --discard reach the cluster too.
    """
    import dataclasses

    from seal.runtime.services import RunOptions
    from seal.runtime.state import resolve_state

    state = dataclasses.replace(state, leader_elect=False)  # stop the replicas first
    options = RunOptions(kubeconfig=kubeconfig, context=context, state_dir=state_dir, state=state)
    if list_pending and discard:
        raise UsageError("--list and --discard go one at a time")
    if resolve_state(state, options.environ).backend == "kubernetes" and (list_pending or discard):
        return _in_cluster(options, discard)
    if list_pending:
        for line in pending_table(options.state_path):
            click.echo(line)
        return 0
    if discard is not None:
        from seal.runtime.journals import discard_pending

        entry = discard_pending(options.state_path, discard)
        click.echo(f"discarded {entry.id}: {entry.description}")
        return 0
    return _carry_out(options, cloud_options)


def _carry_out(options: Any, cloud: CloudOptions) -> int:
    from seal.adapters.kubeconfig import resolve
    from seal.cli.cloud_options import driver_from_options
    from seal.runtime.scenario import clean_leftovers
    from seal.runtime.services import open_services

    connection = resolve(options.kubeconfig, options.context)
    driver = driver_from_options(cloud, connection=connection)
    # open_services identifies the cluster: an unreachable one is an error (exit 3),
    # never a report of zero undos.
    with open_services(
        options, connection, cloud=None if driver.name == "none" else driver
    ) as services:
        log.info("cleaning up on %s", services.journal.identity)
        report = clean_leftovers(services)
        left = len(services.journal)
    click.echo(
        f"{report.undone} undo(s) carried out, {left} left"
        + ("" if report.ok else " (see the errors above; run seal cleanup again)")
    )
    return 0 if report.ok else 1


def _in_cluster(options: Any, discard: str | None) -> int:
    """--list or --discard on the journal kept in the cluster (its ConfigMap)."""
    from seal.adapters.identity import identify
    from seal.adapters.kube import KubeClient
    from seal.adapters.kubeconfig import resolve
    from seal.clock import SystemClock
    from seal.runtime.state import open_journal, resolve_state

    kube = KubeClient(resolve(options.kubeconfig, options.context))
    identity = identify(kube)
    state = resolve_state(options.state, options.environ)
    journal = open_journal(state, options.state_path, kube, identity, SystemClock())
    if discard is None:
        entries = journal.pending()
        lines = journal_table(journal.where, entries) if entries else []
        for line in lines or [f"no pending undos in {journal.where}"]:
            click.echo(line)
        return 0
    entry = journal.find(discard)
    journal.discard(entry)
    log.warning(
        "discarded on request, not carried out: undo %s: %s; what it would undo stays as it is",
        entry.id,
        entry.where,
    )
    click.echo(f"discarded {entry.id}: {entry.description}")
    return 0


def journal_table(where: str, entries: list[Any], now: float | None = None) -> list[str]:
    """One journal's pending undos, headed by where it is and the clusters they belong to."""
    now = time.time() if now is None else now
    clusters = sorted({str(e.cluster or "a cluster it does not name") for e in entries})
    lines = [f"{where}: {len(entries)} pending undo(s) for {'; '.join(clusters)}"]
    rows = [("ID", "AGE", "POLICY", "SCENARIO", "UNDO")]
    rows += [
        (e.id[:12], _age(now - e.created), e.policy or "-", e.scenario_name, e.description)
        for e in reversed(entries)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  " + "  ".join([*cells, row[4]]))
    return lines


def pending_table(state_dir: Path, now: float | None = None) -> list[str]:
    """The pending undos of every journal in `state_dir`, a table per cluster."""
    from seal.runtime.journals import journals

    now = time.time() if now is None else now
    lines: list[str] = []
    for path, entries in journals(state_dir):
        if entries:
            lines += journal_table(str(path), entries, now)
    return lines or [f"no pending undos in {state_dir}"]


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"

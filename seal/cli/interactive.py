"""`seal interactive`: a shell to explore the cluster and break it by hand, safely."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from seal.cli.options import option
from seal.cli.running import MachineFlags, RunFlags, _services, machine_options, run_options

log = logging.getLogger("seal.cli")


def _log_to_file(path: Path) -> None:
    """seal's log lines go to the file (the shell owns the terminal), at the level chosen."""
    from seal import log as seal_log
    from seal.errors import UsageError

    level = logging.getLogger("seal").level
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the log file: {exc.strerror}") from exc
    seal_log.configure(
        verbosity=1 if level == logging.DEBUG else 0,
        silent=level >= logging.ERROR,
        fmt=seal_log.log_format(),
        stream=stream,
    )


@click.command()
@run_options
@machine_options
@option(
    "--confirm-above",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Ask before an action touches more targets than this, showing them.",
)
@option("--alertmanager-url", help="The Alertmanager `silence` silences alerts of.")
@option(
    "--log-file",
    type=click.Path(dir_okay=False),
    help="Where seal's log lines go (default: interactive.log in the state directory).",
)
@option(
    "--history-file",
    type=click.Path(dir_okay=False),
    help="The shell's history (default: interactive-history in the state directory).",
)
def interactive(
    machines: MachineFlags,
    confirm_above: int,
    alertmanager_url: str | None,
    log_file: str | None,
    history_file: str | None,
    **flags: Any,
) -> int:
    """A shell to look at the cluster and break it by hand: list pods, nodes and more,
    kill pods, stop and start machines, run commands on nodes, probe, silence alerts.

    Every change goes through the undo journal as in autonomous mode and the same
    safety rules apply; leaving the shell (exit, Ctrl-D, SIGTERM) undoes what is
    pending unless you typed `keep`. `record FILE` writes the actions taken as a
    policy that `seal autonomous` replays. `help` in the shell lists the commands.
    """
    from rich.console import Console

    from seal.interactive.commands import Commands
    from seal.interactive.completion import NameCache, read_names
    from seal.interactive.session import Session
    from seal.interactive.shell import ConsoleLogHandler, Shell
    from seal.runtime.scenario import clean_leftovers

    run_flags = RunFlags(**flags)
    state = run_flags.options().state_path
    _log_to_file(Path(log_file) if log_file else state / "interactive.log")
    console = Console(highlight=False, markup=False)
    handler = ConsoleLogHandler(console)
    logging.getLogger("seal").addHandler(handler)
    with _services(run_flags, machines) as running:
        services = running.services
        clean_leftovers(services)
        session = Session(services, services.safety(), confirm_above=confirm_above)
        commands = Commands(session, console, alertmanager_url=alertmanager_url)
        cache = NameCache(lambda: read_names(services.kube, services.kube.list_all))
        cache.start()
        shell = Shell(
            commands,
            cache,
            history_file=Path(history_file) if history_file else state / "interactive-history",
        )
        status = shell.run()
    sys.stdout.flush()
    return status

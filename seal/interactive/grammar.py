"""The grammar of the shell's commands: one argument parser each, with its help text.

Parsing only; errors are `UsageError`s, never an exit. No I/O.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from seal.errors import UsageError


class CommandParser(argparse.ArgumentParser):
    """An argument parser that raises instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (help {self.prog} shows how to use it)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: bad arguments")


def _parser(name: str, summary: str, epilog: str = "") -> CommandParser:
    return CommandParser(
        prog=name,
        description=summary,
        epilog=epilog,
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _namespace(parser: CommandParser, what: str) -> None:
    parser.add_argument("-n", "--namespace", metavar="NS", help=what)


def _listing() -> dict[str, CommandParser]:
    pods = _parser("pods", "List pods, optionally filtered.")
    _namespace(pods, "only this namespace (default: every namespace)")
    pods.add_argument("-l", "--selector", metavar="SELECTOR", help="a label selector, a=b,c!=d")
    pods.add_argument("--state", help="only pods in this state (Running, Pending, ...)")
    pods.add_argument("--node", help="only pods on this node")
    nodes = _parser("nodes", "List nodes, with their machine's state when a cloud is in use.")
    nodes.add_argument("--az", help="only nodes in this availability zone")
    nodes.add_argument("--group", help="only nodes of this group (a label value)")
    nodes.add_argument("--state", help="only nodes in this state (UP, DOWN, UNKNOWN)")
    deployments = _parser("deployments", "List deployments and how many replicas are ready.")
    _namespace(deployments, "only this namespace")
    services = _parser("services", "List services, their cluster IPs and ports.")
    _namespace(services, "only this namespace")
    events = _parser("events", "List the latest events, newest last.")
    _namespace(events, "only this namespace")
    events.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    return {
        "pods": pods,
        "nodes": nodes,
        "deployments": deployments,
        "services": services,
        "events": events,
    }


def _acting() -> dict[str, CommandParser]:
    kill = _parser(
        "kill",
        "Kill pods: by name (NAME with -n, NAMESPACE/NAME, or a name unique in the "
        "cluster), by label selector or by deployment.",
        "examples:\n  kill myapp/web-1\n  kill -n myapp -l app=web --sample 2 --force\n"
        "  kill -n myapp -d web --sample 0.5",
    )
    kill.add_argument("pods", nargs="*", metavar="POD")
    _namespace(kill, "the namespace of the pods named, or of -l (default: the context's)")
    kill.add_argument("-l", "--selector", metavar="SELECTOR", help="kill the pods it selects")
    kill.add_argument("-d", "--deployment", metavar="NAME", help="kill the deployment's pods")
    kill.add_argument("--force", action="store_true", help="at once, grace period 0")
    kill.add_argument("--evict", action="store_true", help="through the Eviction API")
    kill.add_argument("--sample", metavar="N|RATIO", help="only N of them, or this ratio")
    stop = _parser(
        "stop",
        "Stop the machines of nodes through the cloud driver; `undo` starts them again.",
        "examples:\n  stop worker-3\n  stop --az WEST-1 --sample 1",
    )
    stop.add_argument("nodes", nargs="*", metavar="NODE")
    stop.add_argument("--az", help="the nodes of this availability zone")
    stop.add_argument("--sample", metavar="N|RATIO", help="only N of them, or this ratio")
    stop.add_argument("--force", action="store_true", help="without a clean shutdown")
    start = _parser("start", "Start the machines of nodes through the cloud driver.")
    start.add_argument("nodes", nargs="*", metavar="NODE")
    start.add_argument("--az", help="the nodes of this availability zone")
    execute = _parser("exec", "Run a command on a node.", "example:\n  exec worker-1 -- uptime")
    execute.add_argument("nodes", nargs="+", metavar="NODE")
    execute.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    probe = _parser(
        "probe",
        "Probe a URL, or a service (NAME with -n, or NAMESPACE/NAME) through its cluster IP.",
    )
    probe.add_argument("target", metavar="URL|SERVICE")
    _namespace(probe, "the service's namespace (default: the context's)")
    probe.add_argument("--port", type=int, default=80, help="the service port (default 80)")
    probe.add_argument("--endpoint", help="a path to append, e.g. /healthz")
    probe.add_argument("--code", type=int, default=200, help="the status expected (200)")
    probe.add_argument("--count", type=int, default=1, help="requests to make (1)")
    wait = _parser("wait", "Wait (Ctrl-C cuts it short).")
    wait.add_argument("seconds", metavar="SECONDS", help="seconds, or 30s, 5m, 1h")
    silence = _parser(
        "silence",
        "Silence every alert of the Alertmanager (--alertmanager-url or "
        "SEAL_ALERTMANAGER_URL) for a while; `undo` lifts the silence.",
    )
    silence.add_argument("duration", metavar="DURATION", help="seconds, or 10m, 2h (1m to 1d)")
    return {
        "kill": kill,
        "stop": stop,
        "start": start,
        "exec": execute,
        "probe": probe,
        "wait": wait,
        "silence": silence,
    }


def _session() -> dict[str, CommandParser]:
    undo = _parser(
        "undo",
        "Undo the last action that can be undone (a machine stopped, a silence), or all.",
        "Killed pods cannot be brought back: their controllers replace them.",
    )
    undo.add_argument("all", nargs="?", choices=["all"], help="undo every pending change")
    record = _parser(
        "record",
        "Record every action from now on as a policy scenario in FILE (rewritten after "
        "each action); `seal autonomous --policy-file FILE` replays it.",
    )
    record.add_argument("file", metavar="FILE")
    show = _parser("help", "Help on a command, or the list of commands.")
    show.add_argument("command", nargs="?", metavar="COMMAND")
    return {
        "undo": undo,
        "pending": _parser("pending", "List the changes waiting to be undone."),
        "keep": _parser(
            "keep",
            "Leave pending changes in place when the shell exits (seal cleanup undoes them later).",
        ),
        "record": record,
        "stop-recording": _parser("stop-recording", "Stop recording; the file is complete."),
        "help": show,
        "exit": _parser("exit", "Leave the shell, undoing pending changes unless `keep`."),
        "quit": _parser("quit", "Same as exit."),
    }


PARSERS: dict[str, CommandParser] = {**_listing(), **_acting(), **_session()}


def flags_of(parser: CommandParser) -> list[str]:
    return sorted(opt for action in parser._actions for opt in action.option_strings)


def split_exec(words: Sequence[str]) -> tuple[list[str], str]:
    """`exec NODE... -- CMD`: the words before `--`, and the command after it."""
    if "--" not in words:
        raise UsageError("exec: give the command after --, e.g. exec worker-1 -- uptime")
    at = list(words).index("--")
    command = " ".join(words[at + 1 :])
    if not command.strip():
        raise UsageError("exec: the command after -- is empty")
    return list(words[:at]), command

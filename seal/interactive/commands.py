"""Running the shell's commands: look at the cluster, act on it through the session,
undo, record. Each action is the policy step it stands for (see `steps`).

Reads the cluster; acts only through the session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from seal.errors import SealError, UsageError
from seal.interactive import render, steps
from seal.interactive.grammar import PARSERS, split_exec
from seal.interactive.recorder import Recorder
from seal.interactive.session import Result, Session
from seal.interactive.steps import Step
from seal.model import Pod
from seal.selection.filters import property_matches
from seal.steps import machines

log = logging.getLogger(__name__)

#: the silence durations an Alertmanager action accepts, in seconds
SILENCE_RANGE = (60, 86400)


class Leave(Exception):
    """The user asked to leave the shell."""


class Commands:
    """What each command does, against one session."""

    def __init__(
        self,
        session: Session,
        console: Console,
        *,
        alertmanager_url: str | None = None,
        after_action: Callable[[], None] = lambda: None,
    ) -> None:
        self.session = session
        self.console = console
        self.alertmanager_url = alertmanager_url
        self.after_action = after_action
        self.recorder: Recorder | None = None
        self.keep = False
        self.handlers: dict[str, Callable[[argparse.Namespace], None]] = {
            "pods": self.pods,
            "nodes": self.nodes,
            "deployments": lambda a: self._listing("apps/v1", "deployments", a, render.deployments),
            "services": lambda a: self._listing("v1", "services", a, render.services),
            "events": self.events,
            "kill": self.kill,
            "stop": self.stop,
            "start": self.start,
            "probe": self.probe,
            "wait": self.wait,
            "silence": self.silence,
            "undo": self.undo,
            "pending": lambda a: render.pending(
                self.console, self.session.pending(), self.session.services.clock.now()
            ),
            "keep": self.keep_changes,
            "record": self.record,
            "stop-recording": self.stop_recording,
            "help": self.help,
            "exit": self.leave,
            "quit": self.leave,
        }

    @property
    def kube(self) -> Any:
        return self.session.services.kube

    @property
    def default_namespace(self) -> str:
        return str(self.session.services.connection.namespace or "default")

    def execute(self, line: str) -> None:
        """Run one line; `Leave` when it asks to leave. User mistakes are printed."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            self.error(f"cannot read that line: {exc}")
            return
        if not words:
            return
        name, args = words[0], words[1:]
        try:
            if name == "exec":
                self.execute_on_nodes(args, line)
                return
            if name not in PARSERS:
                raise UsageError(f"{name}: no such command (help lists them)")
            if "-h" in args or "--help" in args:
                self.console.print(PARSERS[name].format_help())
                return
            parsed = PARSERS[name].parse_args(args)
            parsed.line = line
            self.handlers[name](parsed)
        except SealError as exc:
            self.error(str(exc))

    def error(self, message: str) -> None:
        self.console.print(Text.assemble(("error: ", "red"), message), highlight=False)

    # ------------------------------------------------------------- looking
    def pods(self, args: argparse.Namespace) -> None:
        found = self.kube.list_pods(args.namespace, label_selector=args.selector)
        if args.state:
            found = [p for p in found if p.state.lower() == args.state.lower()]
        if args.node:
            found = [p for p in found if p.node_name == args.node]
        render.pods(self.console, found)

    def nodes(self, args: argparse.Namespace) -> None:
        found = machines.inventory(self.session.reader())
        for prop, value in (("az", args.az), ("group", args.group), ("state", args.state)):
            if value:
                found = [n for n in found if property_matches(n, prop, _exactly(value))]
        render.nodes(self.console, found)

    def _listing(
        self, version: str, plural: str, args: argparse.Namespace, show: Callable[..., None]
    ) -> None:
        base = "/api/v1" if version == "v1" else f"/apis/{version}"
        where = f"/namespaces/{args.namespace}" if args.namespace else ""
        show(self.console, self.kube.list_all(f"{base}{where}/{plural}"))

    def events(self, args: argparse.Namespace) -> None:
        where = f"/namespaces/{args.namespace}" if args.namespace else ""
        items = sorted(self.kube.list_all(f"/api/v1{where}/events"), key=render.event_time)
        render.events(self.console, items[-max(args.limit, 1) :])

    # -------------------------------------------------------------- acting
    def act(self, line: str, step: Step) -> Result:
        """Run the step of a command; record it when recording."""
        spec = steps.build(step)
        result = self.session.run(line, spec)
        style = "green" if result.ok else "red"
        if result.message:
            self.console.print(result.message, style=style, highlight=False, markup=False)
        if result.ok and self.recorder is not None:
            self.recorder.add(line, step)
        self.after_action()
        return result

    def _pod_targets(self, names: list[str], namespace: str | None) -> list[tuple[str, str]]:
        everywhere: list[Pod] = self.kube.list_pods(namespace)
        targets = []
        for name in names:
            ns, _, short = name.rpartition("/")
            ns = ns or namespace or ""
            hits = [p for p in everywhere if p.name == short and (not ns or p.namespace == ns)]
            if not hits and ns and not namespace:
                hits = [p for p in self.kube.list_pods(ns) if p.name == short]
            if not hits:
                where = f" in namespace {ns}" if ns else ""
                raise UsageError(f"no pod named {short}{where} (pods lists them)")
            if len(hits) > 1:
                spaces = ", ".join(sorted(p.namespace for p in hits))
                raise UsageError(f"{short} names a pod in {spaces}: say which, e.g. NS/{short}")
            targets.append((hits[0].namespace, hits[0].name))
        return targets

    def kill(self, args: argparse.Namespace) -> None:
        ways = [bool(args.pods), bool(args.selector), bool(args.deployment)]
        if sum(ways) != 1:
            raise UsageError("kill: name the pod(s), or give -l SELECTOR or -d DEPLOYMENT (one)")
        namespace = args.namespace or self.default_namespace
        if args.selector:
            matcher: Step = {"labels": {"selector": args.selector, "namespace": namespace}}
            step = steps.kill_step(matcher, args.force, args.evict)
        elif args.deployment:
            matcher = {"deployment": {"name": args.deployment, "namespace": namespace}}
            step = steps.kill_step(matcher, args.force, args.evict)
        else:
            step = steps.kill_by_names(
                self._pod_targets(args.pods, args.namespace), args.force, args.evict
            )
        step["podAction"]["filters"] += steps.sample_filter(args.sample)
        self.act(args.line, step)

    def _known_nodes(self, names: list[str]) -> list[str]:
        if names:
            ctx = self.session.reader()
            known = {n.name for n in (ctx.nodes.nodes() if ctx.nodes else self.kube.list_nodes())}
            missing = [n for n in names if n not in known]
            if missing:
                raise UsageError(f"no node named {', '.join(missing)} (nodes lists them)")
        return names

    def stop(self, args: argparse.Namespace) -> None:
        action = {"stop": {"force": args.force, "autoRestart": True}}
        self.act(
            args.line, steps.nodes_step(self._known_nodes(args.nodes), args.az, args.sample, action)
        )

    def start(self, args: argparse.Namespace) -> None:
        self.act(
            args.line, steps.nodes_step(self._known_nodes(args.nodes), args.az, None, {"start": {}})
        )

    def execute_on_nodes(self, words: list[str], line: str) -> None:
        options = words[: words.index("--")] if "--" in words else words
        if "-h" in options or "--help" in options:
            self.console.print(PARSERS["exec"].format_help())
            return
        before, command = split_exec(words)
        parsed = PARSERS["exec"].parse_args(before)
        action = {"execute": {"cmd": command, "timeout": parsed.timeout}}
        self.act(line, steps.nodes_step(self._known_nodes(parsed.nodes), None, None, action))

    def probe(self, args: argparse.Namespace) -> None:
        namespace = args.namespace or self.default_namespace
        step = steps.probe_step(
            args.target, namespace, args.port, args.endpoint, args.code, args.count
        )
        self.act(args.line, step)

    def wait(self, args: argparse.Namespace) -> None:
        seconds = steps.seconds(args.seconds, "wait")
        self.act(args.line, {"wait": {"seconds": seconds}})

    def silence(self, args: argparse.Namespace) -> None:
        if not self.alertmanager_url:
            raise UsageError(
                "silence needs an Alertmanager: start seal interactive with "
                "--alertmanager-url URL, or set SEAL_ALERTMANAGER_URL"
            )
        duration = steps.seconds(args.duration, "silence")
        low, high = SILENCE_RANGE
        if not low <= duration <= high:
            raise UsageError(f"silence {args.duration}: must be from 1m to 1d")
        self.act(args.line, steps.silence_step(self.alertmanager_url, duration))

    # ------------------------------------------------------------- session
    def undo(self, args: argparse.Namespace) -> None:
        if args.all:
            report = self.session.undo_all()
            what = "every pending change"
        else:
            action, report = self.session.undo_last()
            if action is None:
                self.console.print(
                    "nothing to undo (killed pods are not brought back: their controllers "
                    "replace them)"
                )
                return
            what = f"action {action.number} ({action.command})"
        self._report_undo(what, report)
        self.after_action()

    def _report_undo(self, what: str, report: Any) -> None:
        if report.ok:
            message = f"undid {what}: {report.undone} change(s)"
            self.console.print(message, style="green", highlight=False, markup=False)
            return
        for failure in report.failed:
            self.error(f"undo failed: {failure.description}: {failure.reason}")
        self.console.print("the failed undos stay pending (pending lists them)")

    def keep_changes(self, args: argparse.Namespace) -> None:
        self.keep = True
        self.console.print(
            "pending changes will be left in place when you leave; `seal cleanup` (or the "
            "next seal run against this cluster) undoes them"
        )

    def record(self, args: argparse.Namespace) -> None:
        if self.recorder is not None:
            raise UsageError(f"already recording to {self.recorder.path}; stop-recording first")
        rules = self.session.rules
        self.recorder = Recorder(
            Path(args.file).expanduser(),
            protected_namespaces=sorted(rules.protected_namespaces),
            started=dt.datetime.now(),
        )
        self.console.print(f"recording every action to {self.recorder.path}")

    def stop_recording(self, args: argparse.Namespace) -> None:
        if self.recorder is None:
            raise UsageError("not recording (record FILE starts)")
        count, path = len(self.recorder.steps), self.recorder.path
        self.recorder = None
        self.console.print(
            f"recorded {count} step(s) in {path}; replay: seal autonomous --policy-file {path}"
        )

    def help(self, args: argparse.Namespace) -> None:
        if args.command:
            if args.command not in PARSERS:
                raise UsageError(f"{args.command}: no such command (help lists them)")
            self.console.print(PARSERS[args.command].format_help(), highlight=False)
            return
        rows = [(name, parser.description or "") for name, parser in PARSERS.items()]
        self.console.print(
            render.table("commands (help COMMAND for more)", ("COMMAND", "WHAT"), rows)
        )

    def leave(self, args: argparse.Namespace) -> None:
        raise Leave()


def _exactly(value: str) -> str:
    import re

    return re.escape(value) + "$"

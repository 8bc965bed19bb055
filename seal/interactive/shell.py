"""The interactive shell: a prompt with history and completion, one command per line,
a confirmation before large actions, and every pending change undone on the way out
(exit, Ctrl-D, SIGTERM) unless the user said `keep`.

Does terminal I/O and writes the history file.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from rich.console import Console

from seal.interactive import render
from seal.interactive.commands import Commands, Leave
from seal.interactive.completion import NameCache, ShellCompleter
from seal.interactive.grammar import PARSERS, flags_of

log = logging.getLogger(__name__)

PROMPT = "seal> "
#: signals that make the shell leave, undoing what is pending
LEAVING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: log lines worth showing in the shell as well as in the log file
SHOWN_OUTCOMES = frozenset({"dry-run", "protected", "refused", "failure", "spared", "gone"})


class Terminated(SystemExit):
    """SIGTERM (or SIGHUP: the terminal went away) arrived: leave, undoing what is pending.

    A SystemExit, because the signal may land while the prompt's event loop runs a
    callback: asyncio lets SystemExit through, where it would report any other exception
    as unhandled and the prompt would wait for ENTER."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class ConsoleLogHandler(logging.Handler):
    """Shows in the shell the log lines a user must see: warnings, errors, targets left
    alone by the safety rules, what a dry run would have done."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        outcome = getattr(record, "outcome", None)
        if record.name.startswith("seal.interactive"):
            return  # the shell says these itself
        output = getattr(record, "output", None)
        dry_run = str(record.msg).startswith("dry run")
        shown = outcome in SHOWN_OUTCOMES or dry_run or output is not None
        if record.levelno < logging.WARNING and not shown:
            return
        style = "red" if record.levelno >= logging.ERROR else "yellow"
        if record.levelno < logging.WARNING and output is not None:
            style = ""
        self.console.print(record.getMessage(), style=style, highlight=False, markup=False)
        for line in output if isinstance(output, list) else ():
            self.console.print(f"  {line}", highlight=False, markup=False)


def history(path: Path | None) -> History:
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
    except OSError as exc:
        log.warning("%s: cannot keep the shell history there: %s", path, exc.strerror)
        return InMemoryHistory()
    return FileHistory(str(path))


class Shell:
    """Reads lines and runs them until the user leaves."""

    def __init__(
        self,
        commands: Commands,
        cache: NameCache,
        *,
        history_file: Path | None = None,
        input: Any = None,
        output: Any = None,
    ) -> None:
        self.commands = commands
        self.cache = cache
        self.console = commands.console
        completer = ShellCompleter({n: flags_of(p) for n, p in PARSERS.items()}, cache)
        self.prompt = PromptSession[str](
            history=history(history_file),
            completer=completer,
            input=input,
            output=output,
        )
        self.asking = PromptSession[str](input=input, output=output)
        commands.session.confirm = self.confirm
        commands.after_action = cache.refresh_soon

    def confirm(self, what: str, names: Sequence[str]) -> bool:
        """Show the targets and ask before acting on more than the threshold."""
        render.targets(self.console, f"{what} would be touched", names)
        try:
            answer = self.asking.prompt(f"act on these {len(names)} {what}? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    def run(self) -> int:
        """The loop; leaving undoes what is pending. The exit status: 0, or 128+N after
        signal N (143 for SIGTERM, 129 for SIGHUP)."""
        status = 0
        self.console.print(
            "seal interactive: `help` lists the commands, Tab completes, `exit` or Ctrl-D "
            "leaves (undoing pending changes)",
            highlight=False,
        )
        with _terminate_raises() as signals, _interrupt_raises():
            try:
                self._loop()
            except Terminated as stop:
                name = signal.Signals(stop.signum).name
                self.console.print(f"{name}: leaving", highlight=False)
                status = 128 + stop.signum
            finally:
                signals["leaving"] = True
                self.leave()
        return status

    def _loop(self) -> None:
        for _ in iter(int, 1):  # until the user leaves
            try:
                line = self.prompt.prompt(PROMPT)
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            try:
                self.commands.execute(line)
            except Leave:
                return
            except KeyboardInterrupt:
                self.console.print("interrupted (pending lists what is left to undo)")

    def leave(self) -> None:
        """Undo every pending change of the session, unless the user typed `keep`."""
        self.cache.close()
        session = self.commands.session
        pending = session.pending()
        if not pending:
            return
        if self.commands.keep:
            self._say(
                f"leaving {len(pending)} change(s) in place, as asked; `seal cleanup` undoes them"
            )
            return
        self._say(f"undoing {len(pending)} pending change(s)...")
        report = session.undo_all()
        if report.ok:
            self._say(f"undid {report.undone} change(s)")
        else:
            self._say(
                f"{len(report.failed)} undo(s) failed and stay in the journal; "
                "`seal cleanup` retries them",
                style="red",
            )

    def _say(self, message: str, style: str = "") -> None:
        """Tell the user, if the terminal is still there (after SIGHUP it may not be)."""
        try:
            self.console.print(message, style=style, highlight=False)
        except OSError as exc:
            log.info("could not show %r: %s", message, exc.strerror)


@contextmanager
def _terminate_raises() -> Iterator[dict[str, bool]]:
    """The first SIGTERM or SIGHUP leaves the shell (undoing); one while leaving exits at once
    (the journal keeps what is left)."""
    state = {"leaving": False}

    def handler(signum: int, frame: FrameType | None) -> None:
        if state["leaving"]:
            os._exit(128 + signum)
        state["leaving"] = True
        raise Terminated(signum)

    previous = {signum: signal.signal(signum, handler) for signum in LEAVING_SIGNALS}
    try:
        yield state
    finally:
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)


@contextmanager
def _interrupt_raises() -> Iterator[None]:
    """Ctrl-C cuts the running command short and comes back to the prompt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

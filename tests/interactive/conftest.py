"""The shell wired to a sandbox in-process: its commands, and its prompt on pipe input."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from drivers.sandbox import create_driver
from sandbox.sandbox import Sandbox
from seal.adapters.kubeconfig import resolve
from seal.adapters.node_exec import PodExecutor
from seal.interactive.commands import Commands
from seal.interactive.completion import NameCache, read_names
from seal.interactive.session import Session
from seal.interactive.shell import ConsoleLogHandler, Shell
from seal.runtime.services import RunOptions, SafetyFlags, Services, open_services
from tests.autonomous.conftest import alertmanager  # noqa: F401 - a real Alertmanager


@dataclass
class Harness:
    box: Sandbox
    services: Services
    commands: Commands
    cache: NameCache
    buffer: io.StringIO
    history: Path

    def out(self) -> str:
        return self.buffer.getvalue()

    def run(self, line: str) -> str:
        """Run one command line; what it printed."""
        start = len(self.buffer.getvalue())
        self.commands.execute(line)
        return self.buffer.getvalue()[start:]

    def shell(self, *typed: str, pause: float = 0.3) -> tuple[int, str]:
        """Type each piece of `typed` into the shell's prompt (through a pipe), a pause
        between pieces as a person would leave; run the shell until it ends."""
        start = len(self.buffer.getvalue())
        with create_pipe_input() as pipe:

            def typing() -> None:
                for piece in typed:
                    pipe.send_text(piece)
                    time.sleep(pause)

            typist = threading.Thread(target=typing, daemon=True)
            typist.start()
            shell = Shell(
                self.commands,
                self.cache,
                history_file=self.history,
                input=pipe,
                output=DummyOutput(),
            )
            status = shell.run()
            typist.join(timeout=10)
        return status, self.buffer.getvalue()[start:]


Make = Callable[..., Harness]


@pytest.fixture
def make_harness(sandbox: Sandbox, tmp_path: Path) -> Iterator[Make]:
    with ExitStack() as stack:

        def make(
            confirm_above: int = 5,
            dry_run: bool = False,
            environ: dict[str, str] | None = None,
            **safety: Any,
        ) -> Harness:
            connection = resolve(str(sandbox.kubeconfig_path))
            options = RunOptions(
                state_dir=str(tmp_path / "state"),
                seed=3,
                safety=SafetyFlags(dry_run=dry_run, **safety),
                environ=environ or {},
            )
            driver = create_driver(
                server=connection.server,
                token=connection.token,
                ca_file=connection.ca_file,
                insecure=connection.insecure,
            )
            services = stack.enter_context(
                open_services(options, connection, cloud=driver, executor=PodExecutor)
            )
            buffer = io.StringIO()
            console = Console(
                file=buffer, width=160, force_terminal=False, highlight=False, markup=False
            )
            session = Session(services, services.safety(), confirm_above=confirm_above)
            commands = Commands(session, console, alertmanager_url=None)
            cache = NameCache(lambda: read_names(services.kube, services.kube.list_all))
            cache.refresh()
            handler = ConsoleLogHandler(console)
            logger = logging.getLogger("seal")
            logger.addHandler(handler)
            stack.callback(logger.removeHandler, handler)
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.INFO)
            return Harness(sandbox, services, commands, cache, buffer, tmp_path / "history")

        yield make


@pytest.fixture
def harness(make_harness: Make) -> Harness:
    return make_harness()


def live_pods(box: Sandbox, namespace: str) -> dict[str, str]:
    """name -> uid of the pods of a namespace not being deleted."""
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in box.call(lambda s: s.list("pods", namespace))
        if not p["metadata"].get("deletionTimestamp")
    }


def machine_running(box: Sandbox, node: str) -> bool:
    [machine] = [m for m in box.machines.by_id.values() if m.node_name == node]
    return bool(machine.running)

"""Completion for the shell: command names, flags, and the names of namespaces, pods,
nodes, deployments, services and labels, read from the cluster and refreshed.

Reads the cluster (in a background thread, so that typing never waits on it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from seal.errors import SealError
from seal.steps.ports import KubeApi

log = logging.getLogger(__name__)

#: seconds between two refreshes of the names
REFRESH_SECONDS = 15.0
#: seconds after an action's refresh until the next one
AFTER_ACTION_SECONDS = 2.0


@dataclass(frozen=True)
class Names:
    """The names in the cluster when last read."""

    namespaces: tuple[str, ...] = ()
    #: namespace -> pod names
    pods: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    nodes: tuple[str, ...] = ()
    deployments: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    def all_pods(self) -> list[str]:
        return sorted(f"{ns}/{name}" for ns, names in self.pods.items() for name in names)


def read_names(kube: KubeApi, list_all: Callable[[str], list[dict[str, Any]]]) -> Names:
    pods = kube.list_pods(None)
    by_namespace: dict[str, list[str]] = {}
    labels: set[str] = set()
    for pod in pods:
        by_namespace.setdefault(pod.namespace, []).append(pod.name)
        labels.update(f"{k}={v}" for k, v in pod.labels.items())
    nodes = kube.list_nodes()

    def named(path: str) -> tuple[str, ...]:
        items = list_all(path)
        return tuple(sorted({str((o.get("metadata") or {}).get("name", "")) for o in items}))

    return Names(
        namespaces=tuple(sorted(kube.list_namespaces())),
        pods={ns: tuple(sorted(names)) for ns, names in by_namespace.items()},
        nodes=tuple(sorted(n.name for n in nodes)),
        deployments=named("/apis/apps/v1/deployments"),
        services=named("/api/v1/services"),
        labels=tuple(sorted(labels)),
        zones=tuple(sorted({n.zone for n in nodes if n.zone})),
    )


class NameCache:
    """The latest `Names`, refreshed every `interval` seconds, and after every action at
    once and again a little later."""

    def __init__(self, read: Callable[[], Names], interval: float = REFRESH_SECONDS) -> None:
        self._read = read
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.names = Names()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        try:
            self.names = self._read()
        except SealError as exc:
            log.warning("could not read names for completion: %s", exc)

    def refresh_soon(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="seal-names", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        wait = self._interval
        while not self._stop.is_set():
            woken = self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.refresh()
            # an action's effects show over the next seconds (a killed pod's replacement)
            wait = AFTER_ACTION_SECONDS if woken else self._interval

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


#: flag -> what its value is, for the flags whose values can be completed
FLAG_VALUES = {
    "-n": "namespaces",
    "--namespace": "namespaces",
    "-l": "labels",
    "--selector": "labels",
    "--node": "nodes",
    "--az": "zones",
    "--state": "states",
    "-d": "deployments",
    "--deployment": "deployments",
}
STATES = ("Running", "Pending", "Succeeded", "Failed", "Unknown", "Terminating", "UP", "DOWN")
#: command -> what its positional arguments are
POSITIONAL = {
    "kill": "pods",
    "stop": "nodes",
    "start": "nodes",
    "exec": "nodes",
    "probe": "services",
    "help": "commands",
    "undo": "undo",
}


class ShellCompleter(Completer):
    """Completes the word under the cursor from the command's grammar and the names."""

    def __init__(self, commands: Mapping[str, Sequence[str]], cache: NameCache) -> None:
        #: command -> its flags
        self.commands = commands
        self.cache = cache

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        words = text.split()
        current = "" if not words or text.endswith((" ", "\t")) else words[-1]
        before = words[:-1] if current else words
        for option in self.options(before, current):
            if option.startswith(current) and option != current:
                yield Completion(option, start_position=-len(current))

    def options(self, before: Sequence[str], current: str) -> Iterable[str]:
        if not before:
            return sorted(self.commands)
        command = before[0]
        if command == "exec" and "--" in before:
            return ()
        if before[-1] in FLAG_VALUES:
            return self.values(FLAG_VALUES[before[-1]], before)
        if current.startswith("-"):
            return self.commands.get(command, ())
        return self.values(POSITIONAL.get(command, ""), before)

    def values(self, kind: str, before: Sequence[str]) -> Iterable[str]:
        names = self.cache.names
        if kind == "pods":
            namespace = _flag(before, ("-n", "--namespace"))
            if namespace:
                return names.pods.get(namespace, ())
            return names.all_pods()
        if kind == "commands":
            return sorted(self.commands)
        if kind == "undo":
            return ("all",)
        if kind == "states":
            return STATES
        if kind == "services":
            return names.services
        return tuple(getattr(names, kind, ()))


def _flag(words: Sequence[str], flags: Sequence[str]) -> str:
    for index, word in enumerate(words[:-1]):
        if word in flags:
            return words[index + 1]
    return ""

"""Recording a session as a seal policy: one scenario whose steps are the actions taken,
rewritten after every action so that the file is whole whenever the shell stops.

Writes the recording file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import yaml

from seal.errors import PolicyError, UsageError
from seal.interactive.steps import Step, recorded
from seal.policy.loader import load_policy_text
from seal.policy.model import DEFAULT_PROTECTED_NAMESPACES
from seal.steps.registry import STEP_TYPES


class Recorder:
    """The steps of a recording, and the policy file they are written to."""

    def __init__(
        self, path: Path, *, protected_namespaces: Sequence[str] = (), started: dt.datetime
    ) -> None:
        self.path = path
        self.steps: list[tuple[str, Step]] = []
        self.protected = sorted(set(protected_namespaces) - set(DEFAULT_PROTECTED_NAMESPACES))
        self.name = f"interactive session {started:%Y-%m-%d %H:%M}"
        self.write()

    def add(self, command: str, step: Step) -> None:
        self.steps.append((command, recorded(step)))
        self.write()

    def text(self) -> str:
        config: dict[str, object] = {
            "runStrategy": {"runs": 1, "minSecondsBetweenRuns": 0, "maxSecondsBetweenRuns": 0},
            "exitStrategy": {"strategy": "fail-fast"},
        }
        if self.protected:
            config["safety"] = {
                "protectedNamespaces": [*DEFAULT_PROTECTED_NAMESPACES, *self.protected]
            }
        lines = [
            "# Recorded by `seal interactive`. Replay: seal autonomous --policy-file "
            + self.path.name,
            "# Every change is undone when the scenario ends, as the shell undid it on exit.",
            _dump({"config": config}).rstrip(),
            "scenarios:",
            f"- name: {yaml.safe_dump(self.name, default_style=None).splitlines()[0]}",
        ]
        if not self.steps:
            lines.append("  steps: []")
            return "\n".join(lines) + "\n"
        lines.append("  steps:")
        for command, step in self.steps:
            lines.append(f"  # {' '.join(command.splitlines())}")
            body = _dump([step]).rstrip().splitlines()
            lines.extend("  " + line for line in body)
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        """Write the policy (checked first: a recording is always a valid policy)."""
        text = self.text()
        try:
            load_policy_text(text, STEP_TYPES, source=str(self.path), environ={})
        except PolicyError as exc:  # a bug of the shell, reported rather than written
            raise UsageError(
                f"{self.path}: the recording would not be a valid policy: {exc}"
            ) from exc
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot write the recording: {exc.strerror}") from exc


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)

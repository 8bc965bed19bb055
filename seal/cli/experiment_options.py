"""`--journal-path`: where the run of a Chaos Toolkit experiment is written down."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from seal.cli.options import option
from seal.errors import UsageError

log = logging.getLogger("seal.cli")
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_JOURNAL = "journal.json"


def journal_options(command: F) -> F:
    decorated: F = option(
        "--journal-path",
        default=None,
        metavar="PATH",
        help="Where the journal of a Chaos Toolkit experiment's run is written "
        f"(default: ./{DEFAULT_JOURNAL}); experiments only. Its directory must exist and "
        "be writable (checked before anything runs: exit status 2); a journal that still "
        "cannot be written when the run ends makes the exit status 1.",
    )(command)
    return decorated


class ExperimentJournal:
    """The journal of one run of an experiment file, written after the run."""

    def __init__(self, policy_file: str, path: str) -> None:
        self.policy_file = policy_file
        self.path = path
        self.started = time.time()

    def write(self, policy: Any, summary: Any) -> bool:
        """Write the journal; False (and an error logged) when it could not be."""
        from seal.policy.experiments.convert import read_experiment
        from seal.policy.experiments.journal import build_journal, write_journal

        converted = read_experiment(self.policy_file, os.environ)
        if converted is None:  # the file changed under the run: nothing to journal against
            log.error("%s no longer holds an experiment; no journal written", self.policy_file)
            return False
        steps = len(policy.scenarios[0].steps) if policy.scenarios else 0
        journal = build_journal(
            converted,
            list(summary.outcomes),
            method_steps=steps,
            started=self.started,
            ended=time.time(),
            interrupted=bool(summary.interrupted),
        )
        try:
            write_journal(self.path, journal)
        except OSError as exc:
            log.error("cannot write the journal %s: %s", self.path, exc.strerror or exc)
            return False
        log.info("journal written to %s (status %s)", self.path, journal["status"])
        return True


def check_journal_path(path: str) -> None:
    """A usage error unless a journal can be written at `path`: not a directory, in an
    existing directory seal may write to (the journal is written beside it, then moved)."""
    if not path.strip():
        raise UsageError("--journal-path: give a file, e.g. --journal-path journal.json")
    if os.path.isdir(path):
        raise UsageError(f"--journal-path: {path} is a directory; give a file in it")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"--journal-path: {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"--journal-path: {path}: the directory {directory} is not writable")


def _read_experiment(policy_file: str) -> Any:
    from seal.policy.experiments.convert import read_experiment

    return read_experiment(policy_file, os.environ)


def experiment_journal(policy_file: str, journal_path: str | None) -> ExperimentJournal | None:
    """The journal to write for this run: one for an experiment, none for a policy (where
    --journal-path is a usage error)."""
    from seal.policy.loader import may_hold_experiment

    if not may_hold_experiment(policy_file) or _read_experiment(policy_file) is None:
        if journal_path is not None:
            raise UsageError(
                f"--journal-path: {policy_file} is a seal policy, not a Chaos Toolkit "
                "experiment; journals are written for experiments only"
            )
        return None
    path = DEFAULT_JOURNAL if journal_path is None else journal_path
    check_journal_path(path)
    return ExperimentJournal(policy_file, path)

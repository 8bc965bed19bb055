"""Writing reports into the report directory as the run goes: each scenario run's JSON
journal as soon as it finishes, and the policy run's JUnit XML and HTML page rewritten
after every scenario run (a daemon never reaches an end to wait for).

Every file is written whole and then renamed into place, so a reader never sees half of
one; files are 0644, a directory seal creates 0755.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import socket
import tempfile
from collections import deque
from dataclasses import replace
from pathlib import Path

from seal.errors import UsageError
from seal.outcomes import ScenarioOutcome
from seal.reports.html import html_report
from seal.reports.json_report import journal
from seal.reports.junit import PolicyRun, junit_xml

log = logging.getLogger(__name__)

#: how many of the latest scenario runs the JUnit file and the HTML page hold (every run
#: keeps its own JSON journal)
KEEP_RUNS = 500


def slug(name: str) -> str:
    """A name fit for a file name: letters, digits, `.`, `_` and `-`, at most 60."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "scenario"


def prepare_directory(directory: str) -> Path:
    """The report directory, created (0755) when missing, checked writable; `UsageError`
    saying what is wrong when it cannot be used."""
    path = Path(directory).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    missing = []
    parent = path
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        for created in missing:
            created.chmod(0o755)
        handle, probe = tempfile.mkstemp(prefix=".seal-probe-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"{directory}: cannot write reports there: {reason}") from exc
    return path


def write_file(path: Path, data: bytes) -> bool:
    """Write `path` whole (0644) through a temporary file renamed into place; False, with
    the reason logged, when it cannot be written."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.fchmod(handle, 0o644)
            os.write(handle, data)
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except OSError as exc:
        log.error("report %s not written: %s", path, exc.strerror or exc)
        return False
    return True


class ReportWriter:
    """The reports of one policy run in one directory."""

    def __init__(
        self, directory: Path, policy: str, *, started: float, keep: int = KEEP_RUNS
    ) -> None:
        self.directory = directory
        self.run = PolicyRun(policy, started, socket.gethostname())
        self.prefix = _reserve_prefix(directory, policy, started, junit_xml(self.run, []))
        self._runs: deque[tuple[ScenarioOutcome, str]] = deque(maxlen=keep)
        self.total = 0

    @property
    def junit_path(self) -> Path:
        return self.directory / f"{self.prefix}.junit.xml"

    @property
    def html_path(self) -> Path:
        return self.directory / f"{self.prefix}.html"

    def journal_path(self, number: int, outcome: ScenarioOutcome) -> Path:
        return self.directory / f"{self.prefix}-{number:04d}-{slug(outcome.name)}.json"

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        """Write the scenario run's journal, then the policy run's JUnit file and page."""
        self.total += 1
        path = self.journal_path(self.total, outcome)
        text = json.dumps(journal(outcome, self.run.policy), indent=2, ensure_ascii=False)
        write_file(path, text.encode("utf-8") + b"\n")
        self._runs.append((outcome, path.name))
        self._write_run()

    def finish(self, *, finished: float, interrupted: bool) -> None:
        """Rewrite the JUnit file and page as the run ended, and say where they are."""
        self.run = replace(self.run, finished=finished, interrupted=interrupted)
        if self._write_run():
            log.info(
                "reports: %s, %s and %d JSON journal(s) in %s",
                self.junit_path.name,
                self.html_path.name,
                self.total,
                self.directory,
            )

    def _write_run(self) -> bool:
        runs = list(self._runs)
        written = write_file(self.junit_path, junit_xml(self.run, [o for o, _ in runs]))
        page = html_report(self.run, runs, self.total).encode("utf-8")
        return write_file(self.html_path, page) and written


def _reserve_prefix(directory: Path, policy: str, started: float, first: bytes) -> str:
    """`20261123T143455Z-<policy>`: the run's start in UTC and the policy file's name,
    with `-2`, `-3` ... added when another run already used it. The prefix is reserved by
    creating its JUnit file (holding `first`) exclusively, so two runs started in the same
    second never share one."""
    stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{slug(Path(policy).stem)}"
    try:
        taken = {entry.name for entry in directory.iterdir()}
    except OSError:
        taken = set()
    for n in range(1, 1000):
        prefix = base if n == 1 else f"{base}-{n}"
        if any(name.startswith((prefix + ".", prefix + "-")) for name in taken):
            continue
        try:
            handle = os.open(
                directory / f"{prefix}.junit.xml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644
            )
        except FileExistsError:
            continue
        except OSError as exc:  # written later, or logged then as not written
            log.error("report prefix %s not reserved: %s", prefix, exc.strerror or exc)
            return prefix
        try:
            os.fchmod(handle, 0o644)
            os.write(handle, first)
        except OSError as exc:  # the prefix is reserved all the same
            log.error("report %s.junit.xml not written: %s", prefix, exc.strerror or exc)
        finally:
            os.close(handle)
        return prefix
    return f"{base}-{os.getpid()}"

"""Where the undo journal keeps its records: the `JournalStore` interface, and the file
store (an append-only JSON-lines file in the state directory, fsync after every line, an
exclusive lock, private modes). The in-cluster store is in `seal.runtime.journal_configmap`.

A store keeps records, in the order written: `{"op": "record", "id": ..., ...}` writes an
undo down, `{"op": "done", "id": ...}` says it was carried out (or discarded). The journal
folds them into what is pending.

Reads and writes the state directory.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from seal.errors import UndoError, UsageError

log = logging.getLogger(__name__)
Record = dict[str, Any]


class JournalStore(Protocol):
    """Durable storage of journal records."""

    #: where the records are, in words (a path, or a ConfigMap)
    where: str

    def load(self) -> list[Record]:
        """Every record, in the order written (`UsageError` when they cannot be read)."""
        ...

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record durably before returning (`UndoError` when it cannot)."""
        ...

    def compact(self) -> None:
        """Nothing is pending: the store may drop its records (best effort)."""
        ...

    def close(self) -> None: ...


def parse_lines(lines: Iterable[str], where: str, *, warn: bool = True) -> list[Record]:
    """The records of JSON lines; a line that is not a whole record (a torn last line) is
    skipped, with a warning naming it."""
    records: list[Record] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "id" not in record:
                raise TypeError("not a record")
            records.append(record)
        except (ValueError, TypeError):
            if warn:
                log.warning(
                    "%s:%d: ignoring a line that is not a whole journal record", where, number
                )
    return records


def dump_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def secure_state_dir(directory: Path) -> None:
    """Create the state directory 0700, or make an existing one private (with a warning):
    the journal in it holds whole manifests, secrets included."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "%s: the state directory was readable by others (mode %o); made it 0700, as "
                "the undo journal in it holds whole manifests",
                directory,
                mode,
            )
            directory.chmod(0o700)
    except OSError as exc:
        raise UsageError(
            f"{directory}: cannot keep the undo journal there ({exc.strerror}); seal "
            "changes nothing without one; choose a writable --state-dir"
        ) from exc


def _private(path: Path) -> None:
    """An existing journal file that others may read is made 0600, with a warning."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        log.warning("%s: was readable by others (mode %o); made it 0600", path, mode)
        path.chmod(0o600)


class FileStore:
    """The journal file of one cluster in the state directory, locked while open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        secure_state_dir(path.parent)
        try:
            _private(path)
            lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_file = os.fdopen(lock_fd, "a+")
        except OSError as exc:
            raise UsageError(
                f"{path.parent}: cannot keep the undo journal there ({exc.strerror}); seal "
                "changes nothing without one; choose a writable --state-dir"
            ) from exc
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise UsageError(
                f"{path}: another seal process is using this journal; stop it first, or give "
                "this one its own --state-dir"
            ) from exc

    def close(self) -> None:
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def load(self) -> list[Record]:
        if not self.path.exists():
            return []
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return parse_lines(list(handle), self.where)
        except OSError as exc:
            self.close()
            raise UsageError(f"{self.path}: cannot read the undo journal: {exc.strerror}") from exc

    def append(self, record: Mapping[str, Any]) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, dump_line(record).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise UndoError(f"{self.path}: cannot write the undo journal: {exc.strerror}") from exc

    def compact(self) -> None:
        """Start the file afresh, atomically and private from the first byte (a failure
        here only leaves the file longer)."""
        temporary = self.path.with_suffix(".tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(fd, 0o600)  # it may have existed, with another mode
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("%s: cannot compact the journal: %s", self.path, exc.strerror)

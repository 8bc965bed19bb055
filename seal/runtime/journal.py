"""The crash-safe undo journal: every change is recorded before it is made, undone LIFO.

Writes an append-only JSON-lines file in the state directory, with fsync after
every line, so that a crash at any instant leaves it readable (a torn last line
is ignored). An exclusive lock keeps two seal processes off the same journal.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seal.clock import Clock, SystemClock
from seal.errors import SealError, UndoError, UsageError
from seal.outcomes import ReplayReport, UndoFailure

log = logging.getLogger(__name__)
UndoHandler = Callable[["UndoEntry"], None]


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return Path(base).expanduser() / "seal"


def journal_name(cluster: str) -> str:
    """One journal per cluster, so `seal cleanup` finds what a crashed run left there."""
    return "journal-" + hashlib.sha256(cluster.encode()).hexdigest()[:16] + ".jsonl"


@dataclass(frozen=True)
class UndoEntry:
    id: str
    kind: str
    payload: Mapping[str, Any]
    scenario: str
    description: str
    created: float


class UndoJournal:
    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        self.path = path
        self._clock: Clock = clock or SystemClock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_file = open(path.with_suffix(".lock"), "a+")  # noqa: SIM115 - held for life
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
        self._pending: dict[str, UndoEntry] = {}
        self._load()

    def close(self) -> None:
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                lines = list(handle)
        except OSError as exc:
            self.close()
            raise UsageError(f"{self.path}: cannot read the undo journal: {exc.strerror}") from exc
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise TypeError("not an object")
                if record.get("op") == "record":
                    entry = UndoEntry(
                        str(record["id"]),
                        str(record["kind"]),
                        dict(record.get("payload") or {}),
                        str(record.get("scenario", "")),
                        str(record.get("description", "")),
                        float(record.get("created", 0)),
                    )
                    self._pending[entry.id] = entry
                elif record.get("op") == "done":
                    self._pending.pop(str(record.get("id")), None)
            except (ValueError, TypeError, KeyError):
                log.warning(
                    "%s:%d: ignoring a line that is not a whole journal record", self.path, number
                )

    def _append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise UndoError(f"{self.path}: cannot write the undo journal: {exc.strerror}") from exc

    def record(
        self, kind: str, payload: Mapping[str, Any], *, scenario: str, description: str
    ) -> UndoEntry:
        """Write an undo down, durably, before the change it undoes is made."""
        entry = UndoEntry(
            uuid.uuid4().hex, kind, dict(payload), scenario, description, self._clock.now()
        )
        self._append(
            {
                "op": "record",
                "id": entry.id,
                "kind": kind,
                "payload": entry.payload,
                "scenario": scenario,
                "description": description,
                "created": entry.created,
            }
        )
        self._pending[entry.id] = entry
        return entry

    def discard(self, entry: UndoEntry) -> None:
        """Forget an undo whose change turned out not to need undoing."""
        self._mark_done(entry)

    def _mark_done(self, entry: UndoEntry) -> None:
        self._append({"op": "done", "id": entry.id})
        self._pending.pop(entry.id, None)
        if not self._pending:
            self._compact()

    def _compact(self) -> None:
        """Nothing is pending: start the file afresh (a failure here only leaves it longer)."""
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text("")
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("%s: cannot compact the journal: %s", self.path, exc.strerror)

    def pending(self, scenario: str | None = None) -> list[UndoEntry]:
        """Pending undos, oldest first."""
        entries = sorted(self._pending.values(), key=lambda e: e.created)
        return [e for e in entries if scenario is None or e.scenario == scenario]

    def __len__(self) -> int:
        return len(self._pending)

    def replay(
        self,
        handlers: Mapping[str, UndoHandler],
        *,
        scenario: str | None = None,
        attempts: int = 5,
        backoff: float = 0.5,
    ) -> ReplayReport:
        """Run pending undos last-in-first-out; failures are retried, then kept and reported."""
        undone = 0
        failed: list[UndoFailure] = []
        for entry in reversed(self.pending(scenario)):
            failure = self._replay_one(entry, handlers, attempts, backoff)
            if failure is None:
                undone += 1
            else:
                failed.append(UndoFailure(entry.id, entry.kind, entry.description, failure))
        return ReplayReport(undone, tuple(failed))

    def _replay_one(
        self, entry: UndoEntry, handlers: Mapping[str, UndoHandler], attempts: int, backoff: float
    ) -> str | None:
        """Carry out one undo and write it down; why it failed, or None."""
        handler = handlers.get(entry.kind)
        if handler is None:
            reason = f"no undo handler for kind {entry.kind!r}"
            log.error("cannot undo %s: %s", entry.description, reason)
            return reason
        failure = self._run(entry, handler, attempts, backoff)
        if failure is not None:
            log.error(
                "undo failed, kept in the journal for the next start or `seal cleanup`: %s: %s",
                entry.description,
                failure,
            )
            return failure
        try:
            self._mark_done(entry)
        except UndoError as exc:
            # The change is undone; the next replay of this entry will find nothing to do.
            log.error("undone, but not written down: %s: %s", entry.description, exc)
            return str(exc)
        log.info("undone: %s", entry.description, extra={"undo": entry.kind})
        return None

    def _run(
        self, entry: UndoEntry, handler: UndoHandler, attempts: int, backoff: float
    ) -> str | None:
        reason = ""
        for attempt in range(1, attempts + 1):
            try:
                handler(entry)
                return None
            except (SealError, OSError) as exc:
                reason = str(exc)
                if attempt < attempts:
                    log.warning(
                        "undo of %s failed (attempt %d of %d): %s",
                        entry.description,
                        attempt,
                        attempts,
                        reason,
                    )
                    # Not cut short by a shutdown: a shutdown is when undos matter most.
                    self._clock.sleep(backoff * 2 ** (attempt - 1), interruptible=False)
        return reason or "failed"

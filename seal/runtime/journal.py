"""The crash-safe undo journal: every change is recorded before it is made, undone LIFO.

Its records live in a store (`seal.runtime.journal_store`): by default an append-only
JSON-lines file in the state directory, with fsync after every line, so that a crash at
any instant leaves it readable (a torn last line is ignored), and an exclusive lock that
keeps two seal processes off the same journal; in the cluster, a ConfigMap in seal's
namespace (`seal.runtime.journal_configmap`). There is one journal per cluster, named
after the cluster's own identity (the uid of its kube-system namespace), and every undo
carries the identity of the cluster it was recorded on: an undo is carried out only on
that cluster. The journal holds whole manifests, so the state directory is 0700 and every
file in it 0600.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seal.adapters.identity import ClusterIdentity
from seal.clock import Clock, SystemClock
from seal.errors import SealError, UndoError, UsageError
from seal.outcomes import ReplayReport, UndoFailure
from seal.runtime.journal_store import FileStore, JournalStore, Record, parse_lines

log = logging.getLogger(__name__)
UndoHandler = Callable[["UndoEntry"], None]
JOURNAL_GLOB = "journal-*.jsonl"


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return Path(base).expanduser() / "seal"


def journal_name(cluster_uid: str) -> str:
    """One journal per cluster, named by the cluster's uid rather than the URL that reached
    it, so `seal cleanup` finds what a crashed run left whichever URL it is given."""
    return "journal-" + hashlib.sha256(cluster_uid.encode()).hexdigest()[:16] + ".jsonl"


@dataclass(frozen=True)
class UndoEntry:
    id: str
    kind: str
    payload: Mapping[str, Any]
    scenario: str
    description: str
    created: float
    #: the policy file whose step recorded it
    policy: str = ""
    #: the cluster it was recorded on (None: written by a seal that did not say)
    cluster: ClusterIdentity | None = None

    @property
    def scenario_name(self) -> str:
        """The scenario's name, without the run id seal appends."""
        return self.scenario.rpartition("#")[0] or self.scenario

    @property
    def where(self) -> str:
        """The undo in words, with the policy file and scenario it comes from."""
        origin = [f"policy {self.policy}"] if self.policy else []
        origin.append(f"scenario {self.scenario_name}")
        return f"{self.description} ({', '.join(origin)})"


def _entry(record: Mapping[str, Any]) -> UndoEntry:
    return UndoEntry(
        str(record["id"]),
        str(record["kind"]),
        dict(record.get("payload") or {}),
        str(record.get("scenario", "")),
        str(record.get("description", "")),
        float(record.get("created", 0)),
        str(record.get("policy") or ""),
        ClusterIdentity.from_json(record.get("cluster")),
    )


def fold(records: list[Record], where: str = "", *, warn: bool = True) -> dict[str, UndoEntry]:
    """The undos that `records` (in the order written) leave pending."""
    pending: dict[str, UndoEntry] = {}
    for record in records:
        try:
            if record.get("op") == "record":
                entry = _entry(record)
                pending[entry.id] = entry
            elif record.get("op") == "done":
                pending.pop(str(record.get("id")), None)
        except (ValueError, TypeError, KeyError, AttributeError):
            if warn:
                log.warning("%s: ignoring a record that is not whole: %.80s", where, record)
    return pending


def read_pending(path: Path, *, warn: bool = True) -> dict[str, UndoEntry]:
    """The undos a journal file holds that are not done yet; lines that are not whole
    records (a torn last line) are skipped. `OSError` when the file cannot be read."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = list(handle)
    return fold(parse_lines(lines, str(path), warn=warn), str(path), warn=warn)


class UndoJournal:
    """The journal of one cluster (`identity`; None only for tools that read or edit a
    journal without a cluster, such as `seal cleanup --list`)."""

    def __init__(
        self,
        where: Path | JournalStore,
        *,
        clock: Clock | None = None,
        identity: ClusterIdentity | None = None,
    ) -> None:
        self.store: JournalStore = FileStore(where) if isinstance(where, Path) else where
        #: the journal file (None: the journal lives in the cluster)
        self.path: Path | None = where if isinstance(where, Path) else None
        self.identity = identity
        self._clock: Clock = clock or SystemClock()
        self._pending: dict[str, UndoEntry] = {}
        self.reload()

    @property
    def where(self) -> str:
        return self.store.where

    def close(self) -> None:
        self.store.close()

    def reload(self) -> None:
        """Read the pending undos again from the store (another seal may have written
        there: the leader this one takes over from)."""
        self._pending = fold(self.store.load(), self.store.where)

    def _append(self, record: Mapping[str, Any]) -> None:
        self.store.append(record)

    def record(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        scenario: str,
        description: str,
        policy: str = "",
    ) -> UndoEntry:
        """Write an undo down, durably, before the change it undoes is made."""
        entry = UndoEntry(
            uuid.uuid4().hex,
            kind,
            dict(payload),
            scenario,
            description,
            self._clock.now(),
            policy,
            self.identity,
        )
        record: dict[str, Any] = {
            "op": "record",
            "id": entry.id,
            "kind": kind,
            "payload": entry.payload,
            "scenario": scenario,
            "description": description,
            "created": entry.created,
            "policy": policy,
        }
        if self.identity is not None:
            record["cluster"] = self.identity.as_json()
        self._append(record)
        self._pending[entry.id] = entry
        return entry

    def discard(self, entry: UndoEntry) -> None:
        """Forget an undo whose change turned out not to need undoing."""
        self._mark_done(entry)

    def find(self, id_prefix: str) -> UndoEntry:
        """The pending undo whose id is, or starts with, `id_prefix`."""
        found = [e for e in self._pending.values() if id_prefix and e.id.startswith(id_prefix)]
        if len(found) != 1:
            what = "no pending undo" if not found else f"{len(found)} pending undos"
            raise UsageError(f"{what} with id {id_prefix!r} in {self.where}")
        return found[0]

    def _mark_done(self, entry: UndoEntry) -> None:
        self._append({"op": "done", "id": entry.id})
        self._pending.pop(entry.id, None)
        if not self._pending:
            self._compact()

    def _compact(self) -> None:
        """Nothing is pending: the store starts afresh (a failure only leaves it longer)."""
        self.store.compact()

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

    def foreign(self, entry: UndoEntry) -> str | None:
        """Why `entry` must not be carried out on the cluster seal is connected to, or None."""
        if self.identity is None:
            # A journal bound to no cluster replays only undos bound to none.
            if entry.cluster is None:
                return None
            return "seal does not know which cluster it is connected to"
        if entry.cluster is None:
            return (
                "it does not say which cluster it was recorded on, so seal will not guess; "
                "check it with `seal cleanup --list`"
            )
        if not entry.cluster.same_cluster(self.identity):
            return (
                f"it was recorded on {entry.cluster}, and seal is connected to {self.identity}: "
                f"{entry.cluster.differences(self.identity)}; run `seal cleanup` against the "
                "cluster it was recorded on"
            )
        return None

    def _replay_one(
        self, entry: UndoEntry, handlers: Mapping[str, UndoHandler], attempts: int, backoff: float
    ) -> str | None:
        """Carry out one undo and write it down; why it failed, or None."""
        handler = handlers.get(entry.kind)
        refusal = self.foreign(entry)
        if refusal is not None:
            reason = (
                f"refused, kept in the journal: {refusal} (or drop it on purpose: "
                f"seal cleanup --discard {entry.id[:12]})"
            )
            log.error("cannot undo %s: %s", entry.where, reason)
            return reason
        if handler is None:
            reason = f"no undo handler for kind {entry.kind!r}"
            log.error("cannot undo %s: %s", entry.where, reason)
            return reason
        failure = self._run(entry, handler, attempts, backoff)
        if failure is not None:
            log.error(
                "undo failed, kept in the journal for the next start or `seal cleanup`: %s: %s",
                entry.where,
                failure,
            )
            return failure
        try:
            self._mark_done(entry)
        except UndoError as exc:
            # The change is undone; the next replay of this entry will find nothing to do.
            log.error("undone, but not written down: %s: %s", entry.where, exc)
            return str(exc)
        log.info("undone: %s", entry.where, extra={"undo": entry.kind})
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
                        entry.where,
                        attempt,
                        attempts,
                        reason,
                    )
                    # Not cut short by a shutdown: a shutdown is when undos matter most.
                    self._clock.sleep(backoff * 2 ** (attempt - 1), interruptible=False)
        return reason or "failed"

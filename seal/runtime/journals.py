"""The journals of a state directory, seen together: those of other clusters that still
hold undos, every pending undo (for `seal cleanup --list`), and dropping one on purpose.

Reads the journal files of the state directory; writes only to drop an undo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from seal.errors import UsageError
from seal.runtime.journal import JOURNAL_GLOB, UndoEntry, UndoJournal, read_pending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OtherJournal:
    """A journal in the state directory that belongs to another cluster."""

    path: Path
    pending: tuple[UndoEntry, ...]

    @property
    def clusters(self) -> str:
        known = {str(e.cluster) for e in self.pending if e.cluster is not None}
        if any(e.cluster is None for e in self.pending):
            known.add("a cluster it does not name (written by an older seal)")
        return "; ".join(sorted(known))


def journals(state_dir: Path) -> list[tuple[Path, list[UndoEntry]]]:
    """Every journal in the state directory with its pending undos (read, not locked)."""
    found = []
    for path in sorted(state_dir.glob(JOURNAL_GLOB)):
        try:
            entries = sorted(read_pending(path, warn=False).values(), key=lambda e: e.created)
        except OSError as exc:
            log.warning("%s: cannot read this undo journal: %s", path, exc.strerror)
            continue
        found.append((path, entries))
    return found


def other_journals(journal: UndoJournal) -> list[OtherJournal]:
    """The journals beside `journal` that still hold undos (other clusters' undos); none
    beside a journal kept in the cluster, which holds that cluster's undos only."""
    if journal.path is None:
        return []
    return [
        OtherJournal(path, tuple(entries))
        for path, entries in journals(journal.path.parent)
        if entries and path != journal.path
    ]


def discard_pending(state_dir: Path, id_prefix: str) -> UndoEntry:
    """Drop one pending undo, found by its id (or the id's unique start) in any journal of
    the state directory, without carrying it out; logged, since what it would have undone
    stays as it is."""
    matches = [
        (path, entry)
        for path, entries in journals(state_dir)
        for entry in entries
        if id_prefix and entry.id.startswith(id_prefix)
    ]
    if len(matches) != 1:
        what = "no pending undo" if not matches else f"{len(matches)} pending undos"
        raise UsageError(
            f"{what} with id {id_prefix!r} in {state_dir}; `seal cleanup --list` shows them"
        )
    journal = UndoJournal(matches[0][0])
    try:
        entry = journal.find(matches[0][1].id)
        journal.discard(entry)
    finally:
        journal.close()
    log.warning(
        "discarded on request, not carried out: undo %s: %s; what it would undo stays on %s",
        entry.id,
        entry.where,
        entry.cluster or "its cluster",
    )
    return entry

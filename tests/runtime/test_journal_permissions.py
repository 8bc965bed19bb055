"""The journal holds whole manifests: its directory is 0700 and its files 0600, always."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from seal.runtime.journal import UndoJournal
from tests.fakes import FakeClock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_journal_stays_0600_after_compaction(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.jsonl"
    journal = UndoJournal(path, clock=FakeClock())
    entry = journal.record("note", {"secret": "s3cr3t"}, scenario="s", description="x")
    assert mode(path) == 0o600
    journal.replay({"note": lambda e: None})
    assert path.read_text() == "" and len(journal) == 0  # compacted
    assert mode(path) == 0o600
    journal.record("note", {}, scenario="s", description="y")
    journal.discard(journal.pending()[0])
    assert mode(path) == 0o600
    assert mode(path.with_suffix(".lock")) == 0o600
    assert not path.with_suffix(".tmp").exists()
    assert entry.id
    journal.close()


def test_a_leftover_temporary_file_does_not_lend_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.with_suffix(".tmp").write_text("old")
    path.with_suffix(".tmp").chmod(0o666)
    journal = UndoJournal(path, clock=FakeClock())
    journal.discard(journal.record("note", {}, scenario="s", description="x"))
    assert mode(path) == 0o600
    journal.close()


def test_a_state_directory_others_can_read_is_made_private_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    (state / "journal.jsonl").write_text("")
    (state / "journal.jsonl").chmod(0o644)
    with caplog.at_level(logging.WARNING):
        UndoJournal(state / "journal.jsonl").close()
    assert mode(state) == 0o700
    assert mode(state / "journal.jsonl") == 0o600
    assert f"{state}: the state directory was readable by others (mode 755); made it 0700" in (
        caplog.text
    )


def test_a_new_state_directory_is_created_0700(tmp_path: Path) -> None:
    UndoJournal(tmp_path / "new" / "journal.jsonl").close()
    assert mode(tmp_path / "new") == 0o700

"""The undo journal: durable, LIFO, retried, never dropping an undo, readable after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seal.errors import SealError, UsageError
from seal.runtime.journal import UndoEntry, UndoJournal
from tests.fakes import FakeClock


def test_undos_run_last_in_first_out_and_are_forgotten(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "j.jsonl", clock=FakeClock())
    for name in ("a", "b", "c"):
        journal.record("note", {"name": name}, scenario="s1", description=name)
    journal.record("note", {"name": "other"}, scenario="s2", description="other")
    done: list[str] = []
    report = journal.replay({"note": lambda e: done.append(e.payload["name"])}, scenario="s1")
    assert done == ["c", "b", "a"]
    assert report.ok and report.undone == 3
    assert [e.description for e in journal.pending()] == ["other"]
    journal.close()
    reopened = UndoJournal(tmp_path / "j.jsonl")
    assert [e.payload["name"] for e in reopened.pending()] == ["other"]
    reopened.close()


def test_a_failing_undo_is_retried_then_kept(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "j.jsonl", clock=FakeClock())
    journal.record("flaky", {}, scenario="s", description="flaky thing")
    calls: list[UndoEntry] = []

    def fail(entry: UndoEntry) -> None:
        calls.append(entry)
        raise SealError("API down")

    report = journal.replay({"flaky": fail}, attempts=3)
    assert len(calls) == 3
    assert [(f.description, f.reason) for f in report.failed] == [("flaky thing", "API down")]
    assert len(journal) == 1
    unknown = journal.replay({})
    assert "no undo handler for kind 'flaky'" in unknown.failed[0].reason
    assert len(journal) == 1
    journal.close()


def test_two_processes_cannot_share_a_journal(tmp_path: Path) -> None:
    first = UndoJournal(tmp_path / "j.jsonl")
    with pytest.raises(UsageError, match="another seal process is using this journal"):
        UndoJournal(tmp_path / "j.jsonl")
    first.close()


WRITER = """
import sys
from pathlib import Path
from seal.runtime.journal import UndoJournal
journal = UndoJournal(Path(sys.argv[1]))
for i in range(100000):
    journal.record("note", {"i": i, "pad": "x" * 200}, scenario="s", description=str(i))
"""


def test_a_journal_killed_mid_write_reads_back_whole(tmp_path: Path) -> None:
    for round_number in range(5):
        path = tmp_path / f"j{round_number}.jsonl"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
        for _ in range(200):
            if path.exists() and path.stat().st_size > 2000 * (round_number + 1):
                break
            subprocess.run(["sleep", "0.02"], check=True)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        journal = UndoJournal(path)
        numbers = [int(e.description) for e in journal.pending()]
        assert numbers == list(range(len(numbers)))
        assert numbers
        journal.close()


def test_an_unusable_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UsageError) as refused:
        UndoJournal(blocker / "state" / "j.jsonl")
    assert f"{blocker / 'state'}: cannot keep the undo journal there" in str(refused.value)
    assert "--state-dir" in str(refused.value)


def test_lines_that_are_not_records_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = UndoJournal(path)
    journal.record("note", {"name": "kept"}, scenario="s", description="kept")
    journal.close()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(
            '[1, 2]\n{"op": "record"}\n{"op": "record", "id": 3, "kind": "x", "payload": 5}\n\xff\n'
        )
    reopened = UndoJournal(path)
    assert [e.description for e in reopened.pending()] == ["kept"]
    reopened.close()


def test_a_journal_that_cannot_be_written_stops_the_change(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = UndoJournal(path, clock=FakeClock())
    path.mkdir()  # the next write fails, as it would on a full or read-only disk
    with pytest.raises(SealError) as refused:
        journal.record("note", {}, scenario="s", description="never written")
    assert "cannot write the undo journal" in str(refused.value)
    assert journal.pending() == []
    path.rmdir()
    first = journal.record("note", {"name": "first"}, scenario="s", description="first")
    journal.record("note", {"name": "second"}, scenario="s", description="second")
    done: list[str] = []

    def undo(entry: UndoEntry) -> None:
        done.append(entry.payload["name"])
        if entry.payload["name"] == "second":
            path.unlink()
            path.mkdir()

    report = journal.replay({"note": undo})
    # Both undos ran; the one that could not be written down is reported, not lost.
    assert done == ["second", "first"]
    assert [f.description for f in report.failed] == ["second", "first"]
    assert first in journal.pending()
    journal.close()


def test_undos_are_tried_five_times_over_several_seconds(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = UndoJournal(tmp_path / "j.jsonl", clock=clock)
    journal.record("flaky", {}, scenario="s", description="flaky thing")
    calls = 0

    def fail_four_times(entry: UndoEntry) -> None:
        nonlocal calls
        calls += 1
        if calls < 5:
            raise SealError("API down")

    report = journal.replay({"flaky": fail_four_times})
    assert report.ok and calls == 5 and len(journal) == 0
    # An API that is away for a few seconds does not leave a fault behind.
    assert clock.slept == [0.5, 1.0, 2.0, 4.0]
    journal.close()

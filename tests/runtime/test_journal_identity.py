"""Undos are bound to the identity of the cluster they were recorded on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from seal.adapters.identity import ClusterIdentity, normalise_server
from seal.runtime.journal import UndoEntry, UndoJournal, journal_name
from seal.runtime.journals import other_journals
from tests.fakes import FakeClock

HOME = ClusterIdentity("uid-1", "sha256:" + "a" * 64, "https://127.0.0.1:6443")


def test_the_same_cluster_by_another_url_replays(tmp_path: Path) -> None:
    path = tmp_path / journal_name(HOME.uid)
    journal = UndoJournal(path, clock=FakeClock(), identity=HOME)
    journal.record("note", {"n": 1}, scenario="s#1", description="one", policy="/p.yml")
    journal.close()
    by_name = ClusterIdentity(HOME.uid, HOME.ca, "https://localhost:6443")
    reopened = UndoJournal(path, clock=FakeClock(), identity=by_name)
    done: list[UndoEntry] = []
    assert reopened.replay({"note": done.append}).undone == 1
    assert done[0].cluster == HOME and done[0].policy == "/p.yml"
    reopened.close()


@pytest.mark.parametrize(
    "other",
    [
        ClusterIdentity(HOME.uid, "sha256:" + "b" * 64, HOME.server),
        ClusterIdentity("uid-2", HOME.ca, HOME.server),
    ],
)
def test_another_cluster_is_refused_and_the_entry_kept(
    tmp_path: Path, other: ClusterIdentity, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "journal.jsonl"
    journal = UndoJournal(path, clock=FakeClock(), identity=HOME)
    journal.record("note", {}, scenario="chaos#1", description="delete it", policy="/p.yml")
    journal.close()
    reopened = UndoJournal(path, clock=FakeClock(), identity=other)
    done: list[UndoEntry] = []
    with caplog.at_level(logging.ERROR):
        report = reopened.replay({"note": done.append})
    assert done == [] and report.undone == 0 and len(reopened) == 1
    reason = report.failed[0].reason
    assert reason.startswith("refused, kept in the journal: it was recorded on https://127.0.0.1")
    assert HOME.differences(other) in reason and "seal cleanup --discard" in reason
    assert "delete it (policy /p.yml, scenario chaos)" in caplog.text
    reopened.close()
    assert len(UndoJournal(path, identity=HOME)) == 1


def test_an_undo_that_names_no_cluster_is_not_replayed_on_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    UndoJournal(path).record("note", {}, scenario="s", description="old")
    journal = UndoJournal(path, clock=FakeClock(), identity=HOME)
    report = journal.replay({"note": lambda e: None})
    assert "does not say which cluster it was recorded on" in report.failed[0].reason
    assert len(journal) == 1


def test_other_journals_with_pending_undos_are_found(tmp_path: Path) -> None:
    theirs = ClusterIdentity("uid-2", "", "x")
    other = UndoJournal(tmp_path / journal_name("uid-2"), identity=theirs)
    other.record("note", {}, scenario="s", description="theirs")
    other.close()
    empty = UndoJournal(tmp_path / journal_name("uid-3"))
    entry = empty.record("note", {}, scenario="s", description="done")
    empty.discard(entry)
    empty.close()
    mine = UndoJournal(tmp_path / journal_name(HOME.uid), identity=HOME)
    found = other_journals(mine)
    assert [(o.path.name, len(o.pending)) for o in found] == [(journal_name("uid-2"), 1)]
    assert "kube-system uid uid-2" in found[0].clusters


def test_server_urls_are_normalised() -> None:
    assert normalise_server("HTTPS://Example.COM:443/") == "https://example.com"
    assert normalise_server("https://127.0.0.1:6443") == "https://127.0.0.1:6443"
    assert normalise_server("http://[::1]:80/api/") == "http://[::1]/api"

"""Writing reports as the run goes: the files, their names and modes, and what happens
when the directory cannot be used."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from seal.errors import UsageError
from seal.reports.writer import ReportWriter, prepare_directory
from tests.reports.conftest import T0, outcomes, validate_report


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A umask that would leave files 0600 and directories 0700 if seal did not set modes."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_journal_as_each_scenario_ends_and_the_run_files_rewritten(
    tmp_path: Path, strict_umask: None
) -> None:
    directory = prepare_directory(str(tmp_path / "reports" / "nightly"))
    assert _mode(directory) == 0o755 and _mode(directory.parent) == 0o755
    writer = ReportWriter(directory, "policies/rollout.yml", started=T0)
    assert writer.prefix == "20260921T141320Z-rollout"
    first, second = outcomes()[:2]

    writer.scenario_finished(first)
    names = sorted(p.name for p in directory.iterdir())
    assert names == [
        "20260921T141320Z-rollout-0001-kill-and-heal.json",
        "20260921T141320Z-rollout.html",
        "20260921T141320Z-rollout.junit.xml",
    ]
    assert ET.parse(writer.junit_path).getroot().get("tests") == "1"

    writer.scenario_finished(second)
    journal = json.loads(
        (directory / "20260921T141320Z-rollout-0002-rollout-under-load.json").read_text()
    )
    validate_report(journal)
    assert journal["scenario"] == "rollout under load"
    assert ET.parse(writer.junit_path).getroot().get("tests") == "2"
    assert "running" in writer.html_path.read_text()

    writer.finish(finished=T0 + 60, interrupted=False)
    assert "finished" in writer.html_path.read_text()
    for path in directory.iterdir():
        assert _mode(path) == 0o644, path
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]  # no leftovers


def test_two_runs_of_a_policy_in_the_same_second_do_not_share_files(tmp_path: Path) -> None:
    first = ReportWriter(tmp_path, "p.yml", started=T0)
    first.scenario_finished(outcomes()[0])
    second = ReportWriter(tmp_path, "p.yml", started=T0)
    assert (first.prefix, second.prefix) == ("20260921T141320Z-p", "20260921T141320Z-p-2")


def test_runs_started_together_in_the_same_second_each_reserve_their_own_prefix(
    tmp_path: Path,
) -> None:
    barrier = threading.Barrier(6)

    def make(_: int) -> str:
        barrier.wait(timeout=30)
        return ReportWriter(tmp_path, "quick.yml", started=T0).prefix

    with ThreadPoolExecutor(6) as pool:
        prefixes = sorted(pool.map(make, range(6)))
    base = "20260921T141320Z-quick"
    assert prefixes == sorted([base] + [f"{base}-{n}" for n in range(2, 7)])
    one, two = (
        ReportWriter(tmp_path, "quick.yml", started=T0),
        ReportWriter(tmp_path, "quick.yml", started=T0),
    )
    assert (one.prefix, two.prefix) == (f"{base}-7", f"{base}-8")
    one.scenario_finished(outcomes()[0])
    two.scenario_finished(outcomes()[2])
    assert ET.parse(one.junit_path).getroot().find("testsuite/testcase").get("name") == (
        "kill and heal"
    )
    assert ET.parse(two.junit_path).getroot().find("testsuite/testcase").get("name") == (
        "nothing to kill"
    )
    reserved = ET.parse(tmp_path / f"{base}.junit.xml").getroot()  # valid before any run
    assert reserved.get("tests") == "0"


def test_the_run_files_hold_the_latest_runs_and_say_how_many_there_were(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, "p.yml", started=T0, keep=2)
    for outcome in outcomes():
        writer.scenario_finished(outcome)
    cases = ET.parse(writer.junit_path).getroot().findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == ["nothing to kill", "kill and heal"]
    page = writer.html_path.read_text()
    assert "4 scenario run(s) (the last 2 shown)" in page
    assert 'id="run-3"' in page and 'id="run-4"' in page and 'id="run-2"' not in page
    assert len(list(tmp_path.glob("*.json"))) == 4  # every run keeps its journal


def test_a_report_that_cannot_be_written_is_logged_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = prepare_directory(str(tmp_path / "gone"))
    writer = ReportWriter(directory, "p.yml", started=T0)
    shutil.rmtree(directory)
    with caplog.at_level(logging.ERROR, logger="seal.reports.writer"):
        writer.scenario_finished(outcomes()[0])
    assert "not written: No such file or directory" in caplog.text
    assert "kill-and-heal.json" in caplog.text


def test_a_directory_that_cannot_be_used_is_a_usage_error(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(UsageError, match=r"a-file: exists and is not a directory$"):
        prepare_directory(str(a_file))
    with pytest.raises(UsageError, match=r"a-file/reports: cannot write reports there: Not a dir"):
        prepare_directory(str(a_file / "reports"))

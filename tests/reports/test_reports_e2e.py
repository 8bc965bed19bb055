"""`seal autonomous --sandbox --report-dir DIR` as a user runs it: the JSON journals (against
the published schema), the JUnit XML and the HTML page (in headless Chromium), for a run
that passes and for one whose last scenario fails; and a directory seal cannot use."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.autonomous.helpers import QUICK, REPO, seal
from tests.conftest import wait_for
from tests.reports.conftest import REMOTE, Dom, validate_report

TWO_SCENARIOS = """\
scenarios:
- name: kill one goldpinger pod
  steps:
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true}}]
- name: expect a teapot
  steps:
  - probeHTTP:
      target: {service: {name: goldpinger, namespace: default, port: 8080}}
      endpoint: /healthz
      code: 418
"""
TEAPOT = "answered 200, expected 418"


def _run(policy: Path | str, tmp_path: Path, reports: Path) -> Any:
    return seal(
        "autonomous",
        "--sandbox",
        "--policy-file",
        str(policy),
        "--state-dir",
        str(tmp_path / "state"),
        "--seed",
        "7",
        "--report-dir",
        str(reports),
    )


def _files(reports: Path) -> tuple[list[dict[str, Any]], ET.Element, Path]:
    """The journals (in order), the JUnit document and the page of the one run there."""
    journals = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]
    (junit,) = reports.glob("*.junit.xml")
    (page,) = reports.glob("*.html")
    for path in reports.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    return journals, ET.parse(junit).getroot(), page


def test_the_example_policy_writes_a_journal_junit_and_a_page(
    tmp_path: Path, open_in_chromium: Callable[[Path], str]
) -> None:
    reports = tmp_path / "reports"
    result = _run("policies/kill-one-pod-and-probe.yml", tmp_path, reports)
    assert result.returncode == 0, result.stderr
    assert f"JSON journal(s) in {reports}" in result.stderr
    assert stat.S_IMODE(reports.stat().st_mode) == 0o755

    (journal,), junit, page = _files(reports)
    validate_report(journal)
    assert journal["scenario"] == "kill one goldpinger pod and probe"
    assert journal["result"] == "passed"
    assert journal["policy"] == "policies/kill-one-pod-and-probe.yml"
    assert journal["runId"].startswith("kill one goldpinger pod and probe#")
    kill, probe = journal["steps"]
    assert (kill["index"], kill["key"], kill["targets"]) == (1, "podAction", 1)
    assert (probe["index"], probe["key"], probe["result"]) == (2, "probeHTTP", "passed")
    assert probe["reason"] == "20 request(s) answered 200"
    assert kill["started"] <= probe["started"]  # ISO 8601 in UTC sorts as time does
    for action in kill["actions"]:
        assert action["target"].startswith("default/goldpinger-")

    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("1", "0", "0")
    (case,) = junit.iter("testcase")
    assert case.get("name") == "kill one goldpinger pod and probe"
    assert case.find("failure") is None

    assert REMOTE.search(page.read_text()) is None
    dom = Dom(open_in_chromium(page))
    assert [t for _, t in dom.find("h2")] == ["kill one goldpinger pod and probe passed"]
    entries = [t for _, t in dom.find("li", class_="entry")]
    assert entries[1] == "step 2 probeHTTP: passed in " + entries[1].split(" in ")[1]
    assert entries[0].startswith("step 1 podAction: passed in ")
    assert [t for _, t in dom.find("button", class_="filter")] == ["all (1)", "passed (1)"]


def test_a_failing_scenario_shows_its_reason_in_all_three(
    tmp_path: Path, open_in_chromium: Callable[[Path], str]
) -> None:
    policy = tmp_path / "two.yml"
    policy.write_text(QUICK + TWO_SCENARIOS)
    reports = tmp_path / "reports"
    result = _run(policy, tmp_path, reports)
    assert result.returncode == 1, result.stderr

    journals, junit, page = _files(reports)
    for journal in journals:
        validate_report(journal)
    assert [(j["scenario"], j["result"]) for j in journals] == [
        ("kill one goldpinger pod", "passed"),
        ("expect a teapot", "failed"),
    ]
    assert TEAPOT in journals[1]["reason"]
    assert TEAPOT in journals[1]["steps"][0]["reason"]

    assert (junit.get("tests"), junit.get("failures")) == ("2", "1")
    passed, failed = junit.iter("testcase")
    assert passed.find("failure") is None
    failure = failed.find("failure")
    assert failure is not None and TEAPOT in failure.get("message", "")

    dom = Dom(open_in_chromium(page))
    sections = dom.find("section", class_="scenario")
    assert [a["data-result"] for a, _ in sections] == ["passed", "failed"]
    assert any(TEAPOT in text for _, text in dom.find("p", class_="reason"))
    assert "failed (1)" in [t for _, t in dom.find("button", class_="filter")]


def test_a_report_dir_seal_cannot_use_is_a_usage_error_before_anything_runs(
    tmp_path: Path,
) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    for reports, problem in (
        (a_file, "exists and is not a directory"),
        (a_file / "reports", "cannot write reports there: Not a directory"),
    ):
        result = _run("policies/kill-one-pod-and-probe.yml", tmp_path, reports)
        assert result.returncode == 2
        assert "Invalid value for '--report-dir'" in result.stderr
        assert f"{reports}: {problem}" in result.stderr
        assert "sandbox" not in result.stderr  # no cluster was started
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()
    assert os.listdir(tmp_path) == ["not-a-dir"]


DAEMON = """\
config:
  runStrategy: {runs: 50, minSecondsBetweenRuns: 1, maxSecondsBetweenRuns: 1}
scenarios:
- name: kill one goldpinger pod
  steps:
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true}}]
"""


def test_reports_are_written_while_seal_runs_and_a_sigterm_marks_them_interrupted(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "daemon.yml"
    policy.write_text(DAEMON)
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "seal", "autonomous", "--sandbox", "--seed", "7"]
    command += ["--policy-file", str(policy), "--state-dir", str(tmp_path / "state")]
    process = subprocess.Popen(
        [*command, "--report-dir", str(reports)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(list(reports.glob("*.json"))) >= 2, timeout=90, what="2 journals")
        assert process.poll() is None  # written as each scenario ended, not at the end
        (junit,) = reports.glob("*.junit.xml")
        running = {
            p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")
        }
        assert running["seal.finished"] == "no (still running)"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    journals, root, page = _files(reports)
    assert int(root.get("tests", "0")) == len(journals) >= 2
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (properties["seal.finished"], properties["seal.interrupted"]) == ("yes", "yes")
    assert '<span id="state">interrupted</span>' in page.read_text()


UNDER_LOAD = """\
scenarios:
- name: kill a my-service pod under load
  background:
    users: 4
    rate: 40
    service: {namespace: myapp, name: my-service, port: 80, path: /hello}
    thresholds: {maxErrorRate: 0.5, maxLatencyMs: 2000, percentile: 99}
  steps:
  - podAction:
      matches: [{labels: {selector: app=my-service, namespace: myapp}}]
      filters: [{randomSample: {size: 1}}]
      actions: [{kill: {force: true}}]
  - wait: {seconds: 3}
"""


def test_background_load_is_in_the_journal_and_plotted_on_the_page(
    tmp_path: Path, open_in_chromium: Callable[[Path], str]
) -> None:
    policy = tmp_path / "load.yml"
    policy.write_text(QUICK + UNDER_LOAD)
    reports = tmp_path / "reports"
    result = _run(policy, tmp_path, reports)
    assert result.returncode == 0, result.stderr

    (journal,), _, page = _files(reports)
    validate_report(journal)
    load = journal["load"]
    assert (load["users"], load["rate"]) == (4, 40.0)
    assert load["requests"] > 40 and load["errors"] <= load["requests"]
    assert len(load["seconds"]) >= 3
    assert [s["t"] for s in load["seconds"]] == list(range(len(load["seconds"])))
    assert sum(s["requests"] for s in load["seconds"]) == load["requests"]

    dom = Dom(open_in_chromium(page))
    titles = [t for a, t in dom.find("svg", class_="chart")]
    assert len(titles) == 2
    assert titles[0].startswith("latency percentiles over time")
    assert titles[1].startswith("errors over time")
    lines = {a["data-series"]: a["points"] for a, _ in dom.find("polyline", class_="series")}
    assert set(lines) == {"p50", "p95", "p99", "errors"}
    assert len(lines["p50"].split()) >= 3  # a point per second the load ran


def test_the_steady_state_before_and_after_and_a_wait_are_in_the_journal(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = _run("policies/greeter-steady-state.yml", tmp_path, reports)
    assert result.returncode == 0, result.stderr
    (journal,), junit, _ = _files(reports)
    validate_report(journal)
    probes = [(p["when"], p["index"], p["key"], p["result"]) for p in journal["steadyState"]]
    assert probes == [
        ("before", 1, "probeHTTP", "passed"),
        ("before", 2, "probePods", "passed"),
        ("after", 1, "probeHTTP", "passed"),
        ("after", 2, "probePods", "passed"),
    ]
    steps = journal["steps"]
    assert [s["key"] for s in steps] == ["podAction", "waitFor", "probeLogs"]
    assert steps[1]["waitedSeconds"] is not None and steps[1]["waitedSeconds"] >= 0
    # in time order: the hypothesis before, the steps, the hypothesis after
    times = [p["started"] for p in journal["steadyState"][:2]]
    times += [s["started"] for s in steps] + [p["started"] for p in journal["steadyState"][2:]]
    assert times == sorted(times)
    assert journal["started"] <= times[0] and times[-1] <= journal["finished"]
    assert junit.get("failures") == "0"

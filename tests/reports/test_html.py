"""The HTML report, opened in headless Chromium with no way to reach any host: what the
rendered page shows (its script ran), and that it refers to nothing outside itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from seal.outcomes import StepOutcome
from seal.reports.html import html_report
from seal.reports.junit import PolicyRun
from seal.reports.writer import ReportWriter
from tests.reports.conftest import REMOTE, T0, Dom, outcomes


def test_the_page_shows_every_run_its_timeline_and_its_load_in_chromium(
    tmp_path: Path, open_in_chromium: Callable[[Path], str]
) -> None:
    writer = ReportWriter(tmp_path, "policies/rollout.yml", started=T0)
    for outcome in outcomes():
        writer.scenario_finished(outcome)
    writer.finish(finished=T0 + 40, interrupted=True)
    source = writer.html_path.read_text()
    assert REMOTE.search(source) is None, REMOTE.search(source)

    dom = Dom(open_in_chromium(writer.html_path))

    # the script ran: it made a filter button per result, with its count
    assert dom.find("body", **{"data-filters": "ready"})
    buttons = [text for _, text in dom.find("button", class_="filter")]
    assert buttons == [
        "all (4)",
        "failed (1)",
        "interrupted (1)",
        "passed (1)",
        "skipped (1)",
    ]
    sections = dom.find("section", class_="scenario")
    assert [(a["id"], a["data-result"]) for a, _ in sections] == [
        ("run-1", "passed"),
        ("run-2", "failed"),
        ("run-3", "skipped"),
        ("run-4", "interrupted"),
    ]
    headings = [text for _, text in dom.find("h2")]
    assert headings == [
        "kill and heal passed",
        "rollout under load failed",
        "nothing to kill skipped",
        "kill and heal interrupted",
    ]
    # the failing run's reason, as it was (markup shown as text)
    reasons = [text for _, text in dom.find("p", class_="reason")]
    assert "step 2 (probeHTTP): answered 503 <not> \x07 ok" in reasons
    # the timeline: a bar per steady-state probe and step, a diamond per action
    entries = [text for _, text in dom.find("li", class_="entry")]
    assert entries[:4] == [
        "steady state before 1 probeHTTP: passed in 0.05s — 200 in 12 ms",
        "step 1 podAction: passed in 0.50s, 1 target(s) — 1 pod(s) selected "
        "kill default/goldpinger-abc: ok, verified (pod gone) at 14:13:21.200",
        "step 2 waitFor: passed in 2.10s, waited 2.10s — held after 2.1s",
        "steady state after 1 probeHTTP: passed in 0.05s — 200 in 12 ms",
    ]
    assert len(dom.find("svg", class_="timeline")) == 3  # the skipped run ran no step
    bars = dom.find("g", class_="bar")
    assert [a["data-result"] for a, _ in bars][:4] == ["passed"] * 4
    assert any("step 2 probeHTTP: failed in 1.50s" in text for _, text in bars)
    assert len(dom.find("path", class_="action")) == 2
    # the background load: its figures and two plots, latency percentiles and errors
    figures = [text for _, text in dom.find("tr")]  # a row of <th>name</th><td>value</td>
    assert {"requests300", "errors7", "p99140 ms", "users5", "errorRate0.02333"} <= set(figures)
    charts = dom.find("svg", class_="chart")
    assert len(charts) == 2
    series = [a["data-series"] for a, _ in dom.find("polyline", class_="series")]
    assert series == ["p50", "p95", "p99", "errors"]
    assert "interrupted" in [text for _, text in dom.find("span", id="state")]
    journals = [a["href"] for a, text in dom.find("a") if text == "JSON journal"]
    assert journals[1] == "20260921T141320Z-rollout-0002-rollout-under-load.json"
    assert (tmp_path / journals[1]).exists()


def test_a_measured_recovery_is_shown_with_its_step() -> None:
    @dataclass(frozen=True)
    class RecoveredStep(StepOutcome):
        recovery_seconds: float | None = None

    step = RecoveredStep("passed", "1 pod(s) selected", 1, key="podAction", index=1)
    outcome = replace(outcomes()[0], steps=(replace(step, recovery_seconds=4.5),))
    page = html_report(PolicyRun("p.yml", T0), [(outcome, "")], 1)
    assert "step 1 podAction: " in page and ", recovered in 4.50s" in page
    unmeasured = replace(outcomes()[0], steps=(step,))
    assert "recovered in" not in html_report(PolicyRun("p.yml", T0), [(unmeasured, "")], 1)

"""A policy run as one self-contained HTML page: a summary of its scenario runs, and for
each a timeline of its steps and actions, its steps in order, its cleanup, and plots of its
background load. No I/O.

Everything is inline (CSS, SVG, a small script that adds filters by result); the page
needs no network access, and reads well with scripts off.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from html import escape
from typing import Any

from seal import __version__
from seal.outcomes import ScenarioOutcome, StepOutcome
from seal.reports import load as load_stats
from seal.reports import svg
from seal.reports.json_report import load_record, steady_state_records, step_reason
from seal.reports.junit import PolicyRun

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1em;color:#222}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:0}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}
.result{display:inline-block;padding:0 .5em;border-radius:.6em;color:#fff;font-size:.85em}
section.scenario{border:1px solid #ccc;border-radius:6px;padding:.8em 1em;margin:1em 0}
.reason{white-space:pre-wrap}.meta{color:#555}.muted{color:#777}
ol.timeline li{margin:.2em 0}ul.actions{margin:.1em 0 .3em;color:#333}
nav#filters button{margin:0 .3em .3em 0;padding:.2em .7em;border:1px solid #999;
border-radius:1em;background:#f5f5f5;cursor:pointer}
nav#filters button.on{background:#333;color:#fff}
svg text{font-family:system-ui,sans-serif}
"""
_CSS += "".join(f".result.{name}{{background:{colour}}}" for name, colour in svg.COLOURS.items())

#: filters by result: a button per result present, with its count
_JS = """
(function () {
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.scenario"));
  var nav = document.getElementById("filters");
  var counts = {};
  sections.forEach(function (s) {
    counts[s.dataset.result] = (counts[s.dataset.result] || 0) + 1;
  });
  function show(result, button) {
    sections.forEach(function (s) { s.hidden = result !== "all" && s.dataset.result !== result; });
    Array.prototype.forEach.call(nav.children, function (b) { b.classList.remove("on"); });
    button.classList.add("on");
  }
  function add(result, count) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "filter";
    button.dataset.result = result;
    button.textContent = result + " (" + count + ")";
    button.addEventListener("click", function () { show(result, button); });
    nav.appendChild(button);
    return button;
  }
  show("all", add("all", sections.length));
  Object.keys(counts).sort().forEach(function (r) { add(r, counts[r]); });
  document.body.dataset.filters = "ready";
})();
"""


def _when(epoch: float) -> str:
    if not epoch:
        return "unknown"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%H:%M:%S.%f")[:-3]


def _badge(result: str) -> str:
    return f'<span class="result {escape(result)}">{escape(result)}</span>'


def in_order(outcome: ScenarioOutcome) -> list[tuple[str, StepOutcome]]:
    """Every steady-state probe and step with its name, in the order they ran: the
    hypothesis before the steps, the steps, the hypothesis after them."""
    records = steady_state_records(outcome)
    probes = [
        (record["when"], f"steady state {record['when']} {step.index} {step.key}", step)
        for record, step in zip(records, outcome.steady_state, strict=True)
    ]
    return [
        *((label, step) for when, label, step in probes if when == "before"),
        *((f"step {step.index} {step.key}", step) for step in outcome.steps),
        *((label, step) for when, label, step in probes if when == "after"),
    ]


def _entry(label: str, step: StepOutcome) -> str:
    text = f"{_badge(step.result)} in {step.duration:.2f}s"
    if step.targets:
        text += f", {step.targets} target(s)"
    if step.seconds is not None:
        text += f", waited {step.seconds:.2f}s"
    recovery = getattr(step, "recovery_seconds", None)  # recoveredWithin, when measured
    if isinstance(recovery, int | float):
        text += f", recovered in {recovery:.2f}s"
    if reason := step_reason(step):
        text += f' &mdash; <span class="reason">{escape(reason)}</span>'
    actions = "".join(
        f'<li class="action">{escape(a.action)} <code>{escape(a.target)}</code>: '
        f"{escape(a.outcome)}, {escape(a.verdict)}"
        + (f" ({escape(a.reason)})" if a.reason else "")
        + (f' <span class="muted">at {_clock(a.at)}</span>' if a.at else "")
        + "</li>"
        for a in step.actions
    )
    actions = f'<ul class="actions">{actions}</ul>' if actions else ""
    result = escape(step.result)
    return f'<li class="entry" data-result="{result}">{escape(label)}: {text} {actions}</li>'


def _cleanup(outcome: ScenarioOutcome) -> str:
    cleanup = outcome.cleanup
    failed = "".join(
        f"<li>{escape(f.kind)} ({escape(f.description)}): {escape(f.reason)}</li>"
        for f in cleanup.failed
    )
    text = f"{cleanup.undone} undo(s) done, {len(cleanup.failed)} failed"
    return f'<p class="cleanup">Cleanup: {text}</p>' + (f"<ul>{failed}</ul>" if failed else "")


def _load(outcome: ScenarioOutcome) -> str:
    record = load_record(outcome)
    if record is None:
        return ""
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in load_stats.figures(record)
    )
    latency, errors = load_stats.series(record, outcome.started)
    charts = svg.line_chart("latency percentiles over time", " ms", latency)
    rates = all("rate" in name.lower() for name in errors)
    charts += svg.line_chart("errors over time", "", errors, least=0.01 if rates else 1.0)
    if not charts:
        charts = '<p class="muted">no measurements over time</p>'
    table = f'<table class="load">{rows}</table>'
    return f'<h3>Background load</h3>{table}<div class="plots">{charts}</div>'


def scenario_section(outcome: ScenarioOutcome, number: int, journal: str) -> str:
    """One scenario run: result, reason, timeline, steps in order, cleanup, load."""
    ordered = in_order(outcome)
    rows = svg.timeline_rows(outcome.started, ordered)
    link = f' <a href="{escape(journal)}">JSON journal</a>' if journal else ""
    reason = f'<p class="reason">{escape(outcome.reason)}</p>' if outcome.reason else ""
    entries = "".join(_entry(label, step) for label, step in ordered)
    picture = svg.timeline(rows, outcome.duration) if rows else '<p class="muted">no steps ran</p>'
    return (
        f'<section class="scenario" id="run-{number}" data-result="{escape(outcome.result)}">'
        f"<h2>{escape(outcome.name)} {_badge(outcome.result)}</h2>{reason}"
        f'<p class="meta">run <code>{escape(outcome.run_id)}</code>, started '
        f"{_when(outcome.started)}, took {outcome.duration:.2f}s, {outcome.targets} target(s)."
        f"{link}</p><h3>Timeline</h3>{picture}"
        f'<ol class="timeline">{entries}</ol>{_cleanup(outcome)}{_load(outcome)}</section>'
    )


def _summary(runs: Sequence[tuple[ScenarioOutcome, str]], first: int) -> str:
    rows = "".join(
        f'<tr data-result="{escape(o.result)}"><td><a href="#run-{first + i}">'
        f"{escape(o.name)}</a></td><td>{_badge(o.result)}</td><td>{o.duration:.2f}s</td>"
        f"<td>{escape(o.reason)}</td></tr>"
        for i, (o, _) in enumerate(runs)
    )
    head = "<tr><th>scenario</th><th>result</th><th>duration</th><th>reason</th></tr>"
    return f'<table class="summary">{head}{rows}</table>'


def html_report(run: PolicyRun, runs: Sequence[tuple[ScenarioOutcome, str]], total: int) -> str:
    """The page for a policy run: `runs` are the latest (outcome, journal file name) pairs,
    `total` how many scenario runs there were in all."""
    first = total - len(runs) + 1
    counts = Counter(o.result for o, _ in runs)
    tally = ", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or "none yet"
    shown = f" (the last {len(runs)} shown)" if len(runs) < total else ""
    state = (
        "interrupted" if run.interrupted else "finished" if run.finished is not None else "running"
    )
    body: list[Any] = [
        f"<header><h1>seal report: {escape(run.policy)}</h1>"
        f'<p class="meta">started {_when(run.started)} on {escape(run.hostname or "localhost")}'
        f', <span id="state">{state}</span>; {total} scenario run(s){shown}: {tally}.</p>'
        '</header><nav id="filters" aria-label="filter by result"></nav>',
        _summary(runs, first),
        *(scenario_section(o, first + i, journal) for i, (o, journal) in enumerate(runs)),
        f'<footer class="muted">written by seal {escape(__version__)}</footer>',
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>seal report: {escape(run.policy)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}<script>{_JS}</script></body></html>\n"
    )

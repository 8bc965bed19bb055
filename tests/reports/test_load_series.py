"""Reading background-load statistics for the page's plots: seal's own per-second shape,
and the other shapes the page understands (windows with ISO times, nested percentiles,
an error rate when there is no count)."""

from __future__ import annotations

import re

from seal.reports import load, svg
from seal.reports.json_report import load_record
from tests.reports.conftest import T0, outcomes


def test_seal_load_seconds_give_percentile_and_error_lines() -> None:
    record = load_record(outcomes()[1])
    assert record is not None
    latency, errors = load.series(record, T0 + 10)
    assert set(latency) == {"p50", "p95", "p99"}
    assert latency["p99"][:2] == [(0.0, 90.0), (1.0, 100.0)]
    assert errors == {"errors": [(float(t), 7.0 if t == 3 else 0.0) for t in range(6)]}
    figures = dict(load.figures(record))
    assert figures["p99"] == "140 ms"
    assert (figures["requests"], figures["errorRate"], figures["target"]) == (
        "300",
        "0.02333",
        "http://127.0.0.1:9/",
    )
    assert "seconds" not in figures


def test_windows_with_iso_times_nested_percentiles_and_an_error_rate() -> None:
    record = {
        "windows": [
            {"at": "2026-09-21T14:13:22Z", "latency": {"p50": 5, "p99": 9}, "errorRate": 0.5},
            {"at": "2026-09-21T14:13:24Z", "latency": {"p50": 6, "p99": 12}, "errorRate": 0.0},
            {"latency": {"p50": 1}},  # no time: left out
        ]
    }
    latency, errors = load.series(record, T0)
    assert latency == {"p50": [(2.0, 5.0), (4.0, 6.0)], "p99": [(2.0, 9.0), (4.0, 12.0)]}
    assert errors == {"errorRate": [(2.0, 0.5), (4.0, 0.0)]}
    assert load.series({"seconds": 3}, T0) == ({}, {})  # not a list: nothing to plot


def test_no_errors_at_all_is_a_flat_line_at_zero_on_a_whole_number_axis() -> None:
    chart = svg.line_chart("errors over time", "", {"errors": [(0.0, 0.0), (1.0, 0.0)]})
    ticks = re.findall(r'text-anchor="end">([^<]*)</text>', chart)
    assert ticks == ["0", "1"]
    assert 'points="60.0,210.0 710.0,210.0"' in chart  # along the bottom, end to end
    assert svg.line_chart("nothing", "", {}) == ""

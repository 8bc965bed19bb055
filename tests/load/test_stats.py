"""What background load came to: the sliding window, the judgement against thresholds,
the per-second buckets and the totals."""

from __future__ import annotations

import random

import pytest

from seal.load.stats import LoadStats, Window, breach, percentile
from seal.outcomes import LoadSecond
from seal.policy.background import LoadThresholds


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_the_window_holds_only_the_requests_that_ended_in_it() -> None:
    stats = LoadStats(started=1000.0, keep=10)
    for i in range(30):  # one request every 0.5 s, from t=0 to t=14.5
        stats.record(1000.0 + i * 0.5, 0.010 + i / 1000, error=i >= 20)
    window = stats.window(1015.0, 5)
    assert (window.requests, window.errors) == (9, 9)  # ended in (10 s, 15 s]: i = 21..29
    assert window.latencies == tuple(sorted(window.latencies))
    assert min(window.latencies) == pytest.approx(0.031)
    assert stats.window(1015.0, 10).requests == 19  # (5 s, 15 s]: i = 11..29


def test_a_window_with_too_few_requests_is_not_judged() -> None:
    limits = LoadThresholds(max_error_rate=0.1, min_requests=20)
    assert breach(limits, Window(10, 19, 19, (0.01,) * 19)) is None
    assert breach(limits, Window(10, 20, 2, (0.01,) * 20)) is None  # exactly 0.1: allowed


def test_an_error_rate_over_the_limit_names_the_measurement() -> None:
    limits = LoadThresholds(max_error_rate=0.2)
    assert breach(limits, Window(10, 200, 84, (0.01,) * 200)) == (
        "error rate 0.42 over the last 10 s > maxErrorRate 0.2 (84 of 200 requests)"
    )


def test_a_latency_over_the_limit_at_the_percentile_names_it() -> None:
    limits = LoadThresholds(max_latency_ms=250, percentile=95, window_seconds=5)
    fast = tuple([0.010] * 95 + [0.900] * 5)
    assert breach(limits, Window(5, 100, 0, fast)) is None  # p95 is 10 ms
    slow = tuple(sorted([0.010] * 90 + [0.300] * 10))
    assert breach(limits, Window(5, 100, 0, slow)) == (
        "p95 latency 300 ms over the last 5 s > maxLatencyMs 250 (100 requests)"
    )


def test_seconds_are_summarised_with_empty_ones_kept() -> None:
    stats = LoadStats(started=0.0)
    for latency in (0.001, 0.002, 0.003, 0.004):
        stats.record(0.5, latency, error=False)
    stats.record(2.2, 0.050, error=True)  # nothing ended during second 1
    report = stats.report("http://x/", users=2, rate=4, now=3.0)
    assert report.seconds == (
        LoadSecond(0, 4, 0, 2.0, 4.0, 4.0),
        LoadSecond(1, 0, 0),
        LoadSecond(2, 1, 1, 50.0, 50.0, 50.0),
    )
    assert (report.requests, report.errors, report.duration) == (5, 1, 3.0)
    assert report.error_rate == 0.2 and report.achieved_rate == pytest.approx(5 / 3)


def test_totals_percentiles_are_within_one_percent() -> None:
    rng = random.Random(3)
    latencies = [rng.lognormvariate(-4, 1) for _ in range(20000)]
    stats = LoadStats(started=0.0)
    for index, latency in enumerate(latencies):
        stats.record(index / 1000, latency, error=False)
    report = stats.report("u", 1, 1000, now=20.0)
    ordered = sorted(latencies)
    for pct, value in ((50, report.p50), (95, report.p95), (99, report.p99)):
        assert value == pytest.approx(percentile(ordered, pct) * 1000, rel=0.011)
    assert len(report.seconds) == 20 and all(s.requests == 1000 for s in report.seconds)


def test_drain_hands_out_each_request_once() -> None:
    stats = LoadStats(started=0.0)
    stats.record(0.1, 0.01, error=False)
    stats.record(0.2, 0.02, error=True)
    assert stats.drain() == ([0.01], [0.02])
    assert stats.drain() == ([], [])

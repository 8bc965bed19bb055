"""Killing many pods at once: every pod killed once, each with its own Prometheus series
and its own log line, in the order of the records."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client import generate_latest

from sandbox.cluster import large
from seal.log import configure, log_context
from seal.metrics import PrometheusMetrics
from seal.steps.pod_action import STEP
from tests.steps.conftest import HarnessFactory

KILL_ALL = """\
- podAction:
    matches: [{namespace: bulk-0}]
    actions: [{kill: {force: true}}]
"""


def test_each_killed_pod_has_its_series_log_line_and_record(
    harness_factory: HarnessFactory,
) -> None:
    h = harness_factory(large(nodes=3, pods=60))
    metrics = PrometheusMetrics()
    h.metrics = metrics  # type: ignore[assignment]
    before = sorted(f"bulk-0/{p['metadata']['name']}" for p in h.pods("bulk-0"))
    assert len(before) == 60
    stream = io.StringIO()
    configure(stream=stream)
    try:
        with log_context(scenario="many", step="0:podAction"):
            outcome = h.run(STEP, KILL_ALL)
    finally:
        for name in ("seal", "drivers"):
            logging.getLogger(name).handlers.clear()
    assert outcome.result == "passed" and outcome.targets == 60
    # the records come in the pods' order, one each, whichever worker killed it
    assert [r.target for r in outcome.actions] == before
    assert all(r.outcome == "ok" and r.verdict == "verified" for r in outcome.actions)
    killed = [line for line in stream.getvalue().splitlines() if ": killed bulk-0/" in line]
    assert len(killed) == 60
    assert all(line.endswith("action=kill outcome=success grace_period=0") for line in killed)
    assert all("[many/0:podAction]" in line for line in killed)  # the log context is kept
    text = generate_latest(metrics.registry).decode()
    for key in before:
        name = key.split("/")[1]
        labels = {"status": "success", "namespace": "bulk-0", "name": name}
        assert metrics.registry.get_sample_value("seal_pod_kills_total", labels) == 1.0
        series = f'name="{name}",namespace="bulk-0",status="success"'
        assert f"seal_pod_kills_total{{{series}}} 1.0" in text
    assert text.count("seal_pod_kills_created{") == 60


def test_json_lines_carry_the_fields_of_each_kill(harness_factory: HarnessFactory) -> None:
    h = harness_factory(large(nodes=2, pods=12))
    stream = io.StringIO()
    configure(stream=stream, fmt="json")
    try:
        with log_context(scenario="many", step="0:podAction"):
            outcome = h.run(STEP, KILL_ALL)
    finally:
        for name in ("seal", "drivers"):
            logging.getLogger(name).handlers.clear()
    assert outcome.result == "passed" and outcome.targets == 12
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    killed = [d for d in lines if d["message"].startswith("killed ")]
    assert sorted(d["target"] for d in killed) == sorted(r.target for r in outcome.actions)
    for doc in killed:
        assert doc["message"] == f"killed {doc['target']}"
        assert (doc["scenario"], doc["step"], doc["level"]) == ("many", "0:podAction", "info")
        assert (doc["action"], doc["outcome"], doc["grace_period"]) == ("kill", "success", 0)
    selected = next(d for d in lines if "selected" in d["message"])
    assert "target" not in selected and "outcome" not in selected  # no fields it was not given

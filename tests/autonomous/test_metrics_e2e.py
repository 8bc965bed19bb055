"""Every metric seal promises, scraped over HTTP from a running `seal autonomous`."""

from __future__ import annotations

import re
import signal
import socket
import urllib.request
from pathlib import Path

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import start, write_policy
from tests.conftest import wait_for

POLICY = """\
scenarios:
- name: nothing matches
  steps:
  - podAction:
      matches: [{namespace: no-such-namespace}]
      actions: [{kill: {force: true}}]
- name: filter leaves nothing
  steps:
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{property: {name: name, value: "^nothing-is-called-this$"}}]
      actions: [{kill: {force: true}}]
- name: coin never lands
  steps:
  - podAction:
      matches: [{labels: {selector: app=goldpinger, namespace: default}}]
      filters: [{probability: 0}]
      actions: [{kill: {force: true}}]
- name: service answers
  steps:
  - probeHTTP:
      target: {service: {name: goldpinger, namespace: default, port: 8080}}
      endpoint: /healthz
      count: 2
- name: service is missing
  steps:
  - probeHTTP:
      target: {service: {name: no-such-service, namespace: default, port: 80}}
- name: hold
  steps:
  - wait: {seconds: 60}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            return str(answer.read().decode())
    except OSError:
        return ""


def value(text: str, metric: str, /, **labels: str) -> float | None:
    """The sample `metric{labels}`, whatever order its labels are printed in."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != metric:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return None


def test_every_counter_moves_and_powerfulseal_flags_serve_them(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    port = free_port()
    policy = write_policy(tmp_path, POLICY).read_text().replace("fail-fast", "report")
    (tmp_path / "policy.yml").write_text(policy)
    process = start(
        sandbox,
        tmp_path / "policy.yml",
        tmp_path / "state",
        "--prometheus-collector",
        "--prometheus-host",
        "127.0.0.1",
        "--prometheus-port",
        str(port),
    )

    def all_but_the_last() -> str:
        text = scrape(port)
        done = value(text, "seal_scenario_runs_total", name="service is missing", result="failed")
        return text if done == 1.0 else ""

    try:
        text = wait_for(all_but_the_last, timeout=60, what="each scenario but the last to end")
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    assert "scenario failed" in errors and "no-such-service does not exist" in errors

    assert value(text, "seal_empty_match_total", source="pod") == 1.0
    # The property filter and the probability filter each leave nothing.
    assert value(text, "seal_empty_filter_total") == 2.0
    assert value(text, "seal_probability_filter_not_passed_total") == 1.0
    assert value(text, "seal_pod_kills_total") is None
    assert "seal_pod_kills_total{" not in text
    for name in ("nothing matches", "filter leaves nothing", "coin never lands", "service answers"):
        assert value(text, "seal_scenario_runs_total", name=name, result="passed") == 1.0
        stamp = value(text, "seal_scenario_last_success_timestamp_seconds", name=name)
        assert stamp is not None and stamp > 1.7e9
        assert value(text, "seal_scenario_duration_seconds_count", name=name) == 1.0
    missing = "service is missing"
    assert value(text, "seal_scenario_runs_total", name=missing, result="failed") == 1.0
    assert value(text, "seal_scenario_last_success_timestamp_seconds", name=missing) is None
    probes = re.findall(r'seal_probes_total\{outcome="success",target="([^"]+)"\} 2\.0', text)
    assert len(probes) == 1
    url = probes[0]
    assert re.fullmatch(r"http://127\.\d+\.\d+\.\d+:8080/healthz", url)
    assert not url.startswith("http://127.0.0.1:")
    assert value(text, "seal_probe_latency_seconds_count", target=url) == 2.0
    assert (
        value(
            text,
            "seal_step_duration_seconds_count",
            scenario="service is missing",
            step="probeHTTP",
            result="failed",
        )
        == 1.0
    )
    assert value(text, "seal_pending_undos") == 0.0
    # Every scenario's counters exist from the start, so increase() sees a first failure.
    for result in ("passed", "failed"):
        assert value(text, "seal_scenario_runs_total", name="hold", result=result) == 0.0
    assert value(text, "seal_undo_failed_total", kind="kubectl-delete") == 0.0

"""A real seal whose policy's schedule is closed: it waits, says so in its log, /readyz
and metrics, does no chaos, and stops at once on SIGTERM."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for
from tests.deploy.test_health import Start, get, seal_running, wait_ready

__all__ = ["seal_running"]  # the fixture, used by name below


def policy(today: dt.date) -> str:
    """Closed today and tomorrow (UTC) by a freeze; a scenario that would kill pods."""
    after = today + dt.timedelta(days=2)
    return f"""
config:
  runStrategy: {{minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
  schedule:
    timeZone: UTC
    blackouts:
    - from: "{today:%Y-%m-%d} 00:00"
      to: "{after:%Y-%m-%d} 00:00"
      reason: change freeze
scenarios:
- name: kill everything in shop
  steps:
  - podAction:
      matches: [{{namespace: shop}}]
      actions: [{{kill: {{probability: 1}}}}]
"""


def test_outside_its_schedule_seal_waits_and_says_so(seal_running: Start, tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    process, port = seal_running(policy(today), 900.0)
    wait_ready(process, port)
    opening = (today + dt.timedelta(days=2)).strftime("%Y-%m-%dT00:00:00Z")

    def waiting() -> str | None:
        status, body = get(port, "/readyz")
        return body if status == 200 and "schedule: closed" in body else None

    body = wait_for(waiting, timeout=60, interval=0.2, what="/readyz saying the schedule waits")
    after = today + dt.timedelta(days=2)
    assert (
        f"schedule: closed (blackout {today:%Y-%m-%d} 00:00 to {after:%Y-%m-%d} 00:00 "
        f"(change freeze)); waiting until {opening}"
    ) in body
    status, metrics = get(port, "/metrics")
    assert status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert samples[("seal_schedule_open", ())] == 0
    next_open = dt.datetime.combine(after, dt.time(), dt.UTC).timestamp()
    assert samples[("seal_schedule_next_open_timestamp_seconds", ())] == next_open
    # no scenario ran, nothing was killed
    runs = [v for (name, _), v in samples.items() if name == "seal_scenario_runs_total"]
    assert runs and set(runs) == {0.0}
    assert not [name for name, _ in samples if name == "seal_pod_kills_total"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    log = (tmp_path / "seal.log").read_text()
    assert "no chaos: blackout" in log
    assert "waiting for the next window" in log

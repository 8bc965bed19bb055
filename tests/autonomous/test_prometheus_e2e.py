"""seal's metrics reach a real Prometheus, and the documented alert rules fire on them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sandbox.sandbox import Sandbox
from tests.autonomous.helpers import REPO, free_port, start
from tests.conftest import wait_for

RULES = REPO / "docs" / "seal-alerts.yml"
pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus is not installed (scripts/setup)"
)

# The first scenario waits at a gate the test opens once Prometheus has scraped every
# counter at 0 (its kubectl is a script that waits for a file, for at most a minute).
GATE = """\
#!/bin/sh
cat > /dev/null
for _ in $(seq 600); do [ -e "$(dirname "$0")/open" ] && exit 0; sleep 0.1; done
exit 1
"""
POLICY = """\
config:
  runStrategy: {{runs: 1, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}}
  exitStrategy: {{strategy: report}}
scenarios:
- name: wait for the gate
  steps:
  - kubectl: {{action: apply, payload: "kind: List", autoDelete: false, kubectlBinary: {gate}}}
- name: kill one goldpinger pod
  steps:
  - podAction:
      matches: [{{labels: {{selector: app=goldpinger, namespace: default}}}}]
      filters: [{{randomSample: {{size: 1}}}}]
      actions: [{{kill: {{force: true}}}}]
- name: probe a missing service
  steps:
  - probeHTTP:
      target: {{service: {{name: no-such-service, namespace: default, port: 80}}}}
- name: hold
  steps:
  - wait: {{seconds: 120}}
"""


def test_prometheus_scrapes_the_kills_and_the_alert_rules_fire(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    check = subprocess.run(
        ["promtool", "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    metrics_port, prometheus_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "seal",
                        "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
                    }
                ],
            }
        )
    )
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def api(path: str, **query: str) -> Any:
        url = f"http://127.0.0.1:{prometheus_port}/api/v1/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return json.loads(answer.read())["data"]
        except OSError:
            return None

    def kills() -> list[Any]:
        found = api("query", query="seal_pod_kills_total")
        return list(found["result"]) if found else []

    def active_alerts() -> set[str]:
        found = api("alerts")
        return {a["labels"]["alertname"] for a in found["alerts"]} if found else set()

    seal = None
    try:
        # Prometheus first, so that it scrapes every counter at 0 before seal's first loop.
        wait_for(lambda: api("status/runtimeinfo"), timeout=60, what="Prometheus to start")
        gate = tmp_path / "gate"
        gate.write_text(GATE)
        gate.chmod(0o755)
        policy = tmp_path / "policy.yml"
        policy.write_text(POLICY.format(gate=gate))
        seal = start(
            sandbox, policy, tmp_path / "state", "--metrics-address", f"127.0.0.1:{metrics_port}"
        )

        def failures_scraped_at_zero() -> bool:
            query = 'seal_scenario_runs_total{name="probe a missing service",result="failed"}'
            found = api("query", query=query)
            return bool(found and found["result"] and found["result"][0]["value"][1] == "0")

        wait_for(failures_scraped_at_zero, timeout=60, what="a scrape of the counters at 0")
        (tmp_path / "open").touch()
        [kill] = wait_for(kills, timeout=60, what="Prometheus to scrape a kill")
        assert kill["metric"]["job"] == "seal"
        assert kill["metric"]["namespace"] == "default"
        assert kill["metric"]["status"] == "success"
        assert kill["metric"]["name"].startswith("goldpinger-")
        alerts = wait_for(
            lambda: active_alerts() & {"SealScenarioFailed"},
            timeout=60,
            what="the SealScenarioFailed alert",
        )
        assert alerts == {"SealScenarioFailed"}
        failing = api("query", query='increase(seal_scenario_runs_total{result="failed"}[15m])')
        by_name = {r["metric"]["name"]: float(r["value"][1]) for r in failing["result"]}
        assert by_name["probe a missing service"] > 0
        assert by_name["kill one goldpinger pod"] == 0
    finally:
        if seal is not None:
            seal.send_signal(signal.SIGTERM)
            seal.communicate(timeout=60)
        prometheus.terminate()
        prometheus.communicate(timeout=60)

"""policies/rollout-under-load.yml run as a user runs it, against `--sandbox`, with a real
Prometheus scraping seal's metrics: the rollout's error-rate SLO is read back from
seal_load_requests_total. And a bad rollout, aborted by the load's threshold."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.autonomous.helpers import REPO
from tests.load.prometheus import prometheus_scraping_seal, query

SCENARIO = "rollout of my-service under load"


def seal_sandbox(
    policy: Path, state: Path, environ: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "seal",
            "autonomous",
            "--sandbox",
            "--policy-file",
            str(policy),
            "--state-dir",
            str(state),
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=REPO,
        env=environ,
    )


def test_the_rollout_holds_its_slo_read_from_prometheus(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    environ = dict(os.environ) | prometheus_scraping_seal(tmp_path, request.addfinalizer)
    result = seal_sandbox(REPO / "policies/rollout-under-load.yml", tmp_path / "state", environ)
    assert result.returncode == 0, result.stderr
    assert "background load: 10 user(s), 40 request(s)/s in total, to http://127.10." in (
        result.stderr
    )
    assert re.search(r"probePrometheus '.*': 0(\.0+)?\b", result.stderr), result.stderr
    done = re.search(
        r"background load: (\d+) request\(s\) in [\d.]+s \([\d.]+/s\), (\d+) error", result.stderr
    )
    assert done, result.stderr
    assert int(done.group(1)) >= 40 * 8 and int(done.group(2)) == 0
    assert "done: 1 loop(s), 1 scenario run(s) passed, 0 failed" in result.stderr
    [success] = query(
        environ["PROMETHEUS_URL"],
        f'max_over_time(seal_load_requests_total{{scenario="{SCENARIO}",result="success"}}[5m])',
    )
    assert float(success["value"][1]) > 100  # type: ignore[index]


def test_a_bad_rollout_is_aborted_and_undone(tmp_path: Path) -> None:
    text = (REPO / "policies/rollout-under-load.yml").read_text()
    bad = text.replace(
        'value: "20"', 'value: "20"}\n                - {name: SEAL_SANDBOX_ERROR_RATE, value: "1"'
    )
    assert bad != text
    policy = tmp_path / "bad-rollout.yml"
    policy.write_text(bad)
    result = seal_sandbox(policy, tmp_path / "state", dict(os.environ))
    assert result.returncode == 1, result.stderr
    assert re.search(
        r"scenario aborted: error rate \d\.\d\d over the last 10 s > maxErrorRate 0.05 \(",
        result.stderr,
    ), result.stderr
    assert "undone: kubectl delete of Deployment myapp/my-service-v2 applied" in result.stderr
    assert re.search(rf"{SCENARIO}\s+1\s+aborted", result.stdout), result.stdout
    assert "probePrometheus" not in result.stderr  # the steps stopped before it

"""/healthz and /readyz beside /metrics: a real seal against the sandbox, asked over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seal.errors import UsageError
from seal.policy.loader import load_policy
from seal.runtime.health import FLOOR_SECONDS, STALL_ENV, Health, policy_bound, stall_seconds
from seal.steps.registry import STEP_TYPES
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]

LOOPING = """
config:
  runStrategy:
    minSecondsBetweenRuns: 0
    maxSecondsBetweenRuns: 0.2
scenarios:
- name: short waits
  steps:
  - wait:
      seconds: 0.2
"""

STALLING = """
config:
  runStrategy:
    runs: 1
scenarios:
- name: one long wait
  steps:
  - wait:
      seconds: 120
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, str]:
    """Status and body, through a real HTTP client; (0, reason) while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError) as exc:
        return 0, str(exc)


Start = Callable[[str, float], tuple[subprocess.Popen[bytes], int]]


@pytest.fixture
def seal_running(tmp_path: Path) -> Iterator[Start]:
    """Starts `seal autonomous --sandbox` with a policy and a stall bound; stops it after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(policy: str, stall: float) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        (tmp_path / "policy.yml").write_text(policy)
        env = {**os.environ, STALL_ENV: str(stall)}
        log = (tmp_path / "seal.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "seal", "autonomous", "--sandbox", "--seed", "1",
             "--policy-file", str(tmp_path / "policy.yml"),
             "--state-dir", str(tmp_path / "state"),
             "--metrics-address", f"127.0.0.1:{port}"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        started.append(process)
        return process, port

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_ready(process: subprocess.Popen[bytes], port: int) -> str:
    def ready() -> str | None:
        assert process.poll() is None, "seal exited before it was ready"
        status, body = get(port, "/readyz")
        return body if status == 200 else None

    body: str = wait_for(ready, timeout=90, interval=0.2, what="/readyz 200")
    return body


def test_ready_after_connecting_and_alive_while_the_loop_runs(seal_running: Start) -> None:
    process, port = seal_running(LOOPING, 3.0)
    body = wait_ready(process, port)
    assert "cluster: connected" in body
    assert "policy: valid, 1 scenario(s)" in body
    # for twice the bound, every answer is 200: the loop keeps making progress
    deadline = time.monotonic() + 6
    answers = []
    while time.monotonic() < deadline:
        answers.append(get(port, "/healthz"))
        time.sleep(0.3)
    assert {status for status, _ in answers} == {200}, answers
    assert all(body.startswith("ok: last progress") for _, body in answers)
    # the metrics are still served on the same port
    status, metrics = get(port, "/metrics")
    assert status == 200
    assert 'seal_scenario_runs_total{name="short waits",result="passed"}' in metrics


def test_healthz_is_503_once_the_loop_stalls_beyond_its_bound(seal_running: Start) -> None:
    process, port = seal_running(STALLING, 1.5)
    wait_ready(process, port)

    def stalled() -> str | None:
        status, body = get(port, "/healthz")
        return body if status == 503 else None

    body = wait_for(stalled, timeout=20, interval=0.2, what="/healthz 503")
    assert body.startswith("stalled: last progress")
    assert "(bound 1.5s)" in body
    # stalled is not unready: the endpoint stays in the Service, so Prometheus still scrapes it
    assert get(port, "/readyz")[0] == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM


def test_a_stall_bound_that_is_no_number_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "policy.yml").write_text(LOOPING)
    result = subprocess.run(
        [sys.executable, "-m", "seal", "autonomous", "--sandbox",
         "--policy-file", str(tmp_path / "policy.yml"), "--state-dir", str(tmp_path / "state"),
         "--metrics-address", f"127.0.0.1:{free_port()}"],
        cwd=REPO, env={**os.environ, STALL_ENV: "soon"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"{STALL_ENV}='soon': expected a number of seconds above 0" in result.stderr
    assert "Traceback" not in result.stderr


# ---- Health itself, on a clock the test moves --------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def policy(tmp_path: Path, text: str) -> object:
    (tmp_path / "p.yml").write_text(text)
    return load_policy(str(tmp_path / "p.yml"), STEP_TYPES)


def test_readiness_needs_the_cluster_a_policy_and_a_ready_role(tmp_path: Path) -> None:
    health = Health(clock=Clock())
    assert health.readiness()[0] == 503
    health.connected()
    status, body = health.readiness()
    assert status == 503 and "policy: none loaded yet" in body
    health.watch(policy(tmp_path, LOOPING))  # type: ignore[arg-type]
    assert health.readiness()[0] == 200
    health.policy_reload_failed()  # the last good policy runs on: still ready, and it says so
    status, body = health.readiness()
    assert status == 200 and "the last re-read was invalid" in body
    health.role = "standby"
    assert health.readiness()[0] == 200
    health.role = "candidate"
    assert health.readiness()[0] == 503


def test_every_metrics_event_is_progress_and_the_policy_sets_the_bound(tmp_path: Path) -> None:
    clock = Clock()
    health = Health(clock=clock)
    stalling = policy(tmp_path, STALLING)
    health.watch(stalling)  # type: ignore[arg-type]
    bound = policy_bound(stalling)  # type: ignore[arg-type]
    assert bound == 300 + 120 + FLOOR_SECONDS  # default maxSecondsBetweenRuns, the wait, floor
    clock.now += bound
    assert health.liveness()[0] == 200
    clock.now += 1
    assert health.liveness()[0] == 503
    health.step_finished("s", "wait", "passed", 120.0)
    assert health.liveness()[0] == 200
    clock.now += bound + 1
    health.pending_undos(0)
    assert health.liveness()[0] == 200
    with pytest.raises(AttributeError):
        health.no_such_event()


def test_stall_bound_from_the_environment() -> None:
    assert stall_seconds({}) is None
    assert stall_seconds({STALL_ENV: "2.5"}) == 2.5
    for wrong in ("0", "-1", "nan", "soon"):
        with pytest.raises(UsageError, match="expected a number of seconds above 0"):
            stall_seconds({STALL_ENV: wrong})


def test_label_mode_is_ready_without_a_policy(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "seal.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "seal", "label", "--sandbox", "--seed", "1",
         "--namespace", "default", "--state-dir", str(tmp_path / "state"),
         "--min-seconds-between-runs", "1", "--max-seconds-between-runs", "1",
         "--metrics-address", f"127.0.0.1:{port}"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        body = wait_ready(process, port)
        assert "policy: label mode over default" in body
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

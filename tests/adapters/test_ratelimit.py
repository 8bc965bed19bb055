"""The kube client at the floor: a token bucket like client-go's (QPS and burst) and a
bound on the requests in flight; the command-line flags that set them."""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sandbox.sandbox import Sandbox
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import resolve
from seal.adapters.ratelimit import ClientLimits, TokenBucket
from seal.clock import SystemClock
from tests.adapters.loopback_api import slow_api
from tests.autonomous.helpers import seal, start
from tests.conftest import SandboxFactory
from tests.fakes import FakeClock


def test_the_bucket_admits_a_burst_then_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(5)] == pytest.approx([0, 0, 0, 0.1, 0.2])
    clock.time += 0.2  # two tokens came back, both already promised
    assert bucket.reserve() == pytest.approx(0.1)
    clock.time += 10  # a long quiet spell refills to the burst, no more
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_acquire_sleeps_the_wait_out_on_the_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=4, burst=2, clock=clock)
    for _ in range(6):
        bucket.acquire()
    # 2 at once, then one every 0.25 s
    assert clock.slept == pytest.approx([0.25, 0.25, 0.25, 0.25])
    assert clock.time - clock.start == pytest.approx(1.0)


@pytest.mark.parametrize(("qps", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_bucket_that_would_admit_nothing_is_refused(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(qps, burst)


def test_requests_to_the_sandbox_stay_under_qps_and_burst(
    sandbox_factory: SandboxFactory,
) -> None:
    box = sandbox_factory()
    qps, burst = 40.0, 10
    kube = KubeClient(
        resolve(str(box.kubeconfig_path)), pool_size=8, rate_limiter=TokenBucket(qps, burst)
    )
    done: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def get(_: int) -> None:
        kube.version()
        with lock:
            done.append(time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(get, range(70)))
    # every prefix of the run: no more answers than the bucket let through
    for count, at in enumerate(sorted(done), start=1):
        assert count <= qps * at + burst + 1
    took = max(done)
    assert (70 - burst) / qps * 0.9 <= took < (70 - burst) / qps + 2.0


def test_max_in_flight_bounds_concurrent_requests() -> None:
    with slow_api(delay=0.15) as (connection, seen):
        kube = KubeClient(connection, pool_size=3)
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(lambda _: kube.version(), range(24)))
    assert len(seen.arrivals) == 24
    assert seen.max_in_flight == 3


def test_the_flags_reach_the_run(tmp_path: Path) -> None:
    from seal.cli.running import RunFlags

    unset = ["context", "kubeconfig", "state_dir", "sandbox", "seed", "max_targets_per_step"]
    flags: dict[str, Any] = dict.fromkeys([*unset, "metrics_address"])
    options = RunFlags(
        **flags,
        dry_run=False,
        protected_namespaces=(),
        prometheus_collector=False,
        prometheus_host="127.0.0.1",
        prometheus_port=0,
        stdout_collector=False,
        client=ClientLimits(7.5, 9, 4),
    ).options()
    assert options.client == ClientLimits(7.5, 9, 4)


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--kube-api-qps", "0", "0.0 is not in the range x>=0.1"),
        ("--kube-api-qps", "0.05", "0.05 is not in the range x>=0.1"),
        ("--kube-api-qps", "nan", "is not a finite number"),
        ("--kube-api-burst", "0", "0 is not in the range x>=1"),
        ("--max-concurrent-requests", "0", "0 is not in the range 1<=x<=512"),
    ],
)
def test_wrong_limits_are_usage_errors(flag: str, value: str, says: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("scenarios: []\n")
    result = seal("autonomous", "--policy-file", str(policy), flag, value)
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_shutdown_ends_a_wait_for_a_token() -> None:
    clock = SystemClock()
    bucket = TokenBucket(qps=0.1, burst=1, clock=clock)
    bucket.acquire()  # the burst; the next token is 10 s away
    waiter = threading.Thread(target=bucket.acquire, daemon=True)
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    clock.request_shutdown()
    waiter.join(timeout=3)
    assert not waiter.is_alive(), "the wait for a token ignored the shutdown"
    assert time.monotonic() - started < 3


def test_after_a_shutdown_requests_go_at_once_and_never_raise() -> None:
    """The undos run after the shutdown was asked for: their requests must get through."""
    clock = FakeClock()
    clock.shutdown_after = 0  # a shutdown was asked for before any sleep
    bucket = TokenBucket(qps=0.1, burst=1, clock=clock)
    assert [bucket.acquire() for _ in range(3)] == pytest.approx([0, 10, 20])
    assert clock.time == clock.start, "no request waited for its token"


def test_a_long_wait_for_a_token_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=0.2, burst=1, clock=clock)
    with caplog.at_level(logging.WARNING, logger="seal.adapters.ratelimit"):
        for _ in range(4):
            bucket.acquire()
    said = [r.getMessage() for r in caplog.records if "throttled" in r.getMessage()]
    assert said == [
        "requests are throttled by --kube-api-qps 0.2: one waits 5 s for its turn "
        "(raise --kube-api-qps or --kube-api-burst to go faster)"
    ]
    quick = TokenBucket(qps=1, burst=1, clock=clock)
    caplog.clear()
    for _ in range(3):
        quick.acquire()
    assert not caplog.records, "a wait of a second or two is not worth a warning"


LISTING = """\
config:
  runStrategy: {runs: 1000, minSecondsBetweenRuns: 0, maxSecondsBetweenRuns: 0}
scenarios:
- name: list pods
  steps:
  - podAction:
      matches:
      - labels: {selector: app=nothing-has-this, namespace: default}
      actions:
      - kill: {force: true}
"""


def test_sigterm_ends_a_run_throttled_by_a_low_qps(sandbox: Sandbox, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(LISTING)
    process = start(
        sandbox,
        policy,
        tmp_path / "state",
        "--kube-api-qps",
        "0.1",
        "--kube-api-burst",
        "1",
    )
    try:
        time.sleep(4)  # connected, and waiting 10 s for each request's token
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert took < 8, f"seal took {took:.1f} s to stop after SIGTERM"
    assert "requests are throttled by --kube-api-qps 0.1" in err
    assert "Traceback" not in err


APF = {"X-Kubernetes-PF-FlowSchema-UID": "f1", "X-Kubernetes-PF-PriorityLevel-UID": "p1"}


def test_an_auto_limit_is_lifted_by_an_answer_that_shows_priority_and_fairness(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    auto = TokenBucket(qps=1, burst=1, clock=clock, auto=True)
    given = TokenBucket(qps=1, burst=1, clock=clock)
    for bucket in (auto, given):
        bucket.saw_answer({"Content-Type": "application/json"})  # no APF: still paced
        assert [bucket.reserve() for _ in range(3)] == pytest.approx([0, 1, 2])
    with caplog.at_level(logging.INFO, logger="seal.adapters.ratelimit"):
        for bucket in (auto, given):
            bucket.saw_answer({k.lower(): v for k, v in APF.items()})  # as answers give them
            bucket.saw_answer({k.lower(): v for k, v in APF.items()})
    assert [auto.reserve() for _ in range(3)] == [0, 0, 0]
    assert given.reserve() == pytest.approx(3)  # a limit the user gave always applies
    lifted = [r for r in caplog.records if "priority and fairness" in r.getMessage()]
    assert len(lifted) == 1


def test_a_kube_client_stops_pacing_once_the_server_answers_with_apf_headers() -> None:
    def answer(method: str, path: str) -> tuple[int, bytes]:
        return 200, b"{}"

    with slow_api(delay=0, answer=answer, headers=APF) as (connection, seen):
        bucket = TokenBucket(qps=2, burst=1, auto=True)
        kube = KubeClient(connection, pool_size=4, rate_limiter=bucket)
        started = time.monotonic()
        for _ in range(20):
            kube.version()
        took = time.monotonic() - started
    # paced at 2/s, 20 requests would take 9.5 s; the first answer lifted the limit
    assert len(seen.arrivals) == 20 and bucket.lifted and took < 5.0


def test_no_rate_flag_means_an_auto_limit_and_either_flag_a_fixed_one() -> None:
    import click
    from click.testing import CliRunner

    from seal.cli.client_options import client_options

    got: list[ClientLimits] = []

    @click.command()
    @client_options
    def command(client: ClientLimits) -> None:
        got.append(client)

    for args in ([], ["--kube-api-qps", "50"], ["--kube-api-burst", "7"]):
        assert CliRunner().invoke(command, args).exit_code == 0
    assert got == [
        ClientLimits(1000.0, 2000, 16, auto=True),
        ClientLimits(50.0, 2000, 16, auto=False),
        ClientLimits(1000.0, 7, 16, auto=False),
    ]

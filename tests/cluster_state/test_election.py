"""Leader election on a Lease of the sandbox, with short durations (1.5 s lease, 1 s renew
deadline, 0.2 s retry): one leader, its holder visible with kubectl, a dead leader replaced
after the lease expires, a leader cut off from the API server stopping before it expires,
and a clean exit handing over at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import yaml

from seal.adapters.identity import identify
from seal.clock import SystemClock
from seal.errors import ShutdownRequested
from seal.metrics import PrometheusMetrics
from seal.runtime.election import LeaderElector, LeadershipLost, elected
from seal.runtime.health import Health
from seal.runtime.journal import UndoJournal
from seal.runtime.journal_configmap import ConfigMapStore, configmap_name
from seal.runtime.state import Election, State
from tests.cluster_state.conftest import NAMESPACE, Cluster, Proxy
from tests.conftest import wait_for

SHORT = Election(lease_duration=1.5, renew_deadline=1.0, retry_period=0.2, lease_name="seal")
#: the lease says whole seconds: 1.5 s is written as 2
LEASE_SECONDS = 2.0


class Candidate:
    """One elector with its metrics, health and a note of when it was told to stop."""

    def __init__(self, cluster: Cluster, name: str, kube: object = None) -> None:
        self.metrics = PrometheusMetrics()
        self.health = Health(stall_seconds=1.0)
        self.lost_at: float | None = None
        self.elector = LeaderElector(
            kube or cluster.client(timeout=2),  # type: ignore[arg-type]
            NAMESPACE,
            name,
            SHORT,
            metrics=self.metrics,
            health=self.health,
            on_lost=self._on_lost,
        )

    def _on_lost(self) -> None:
        self.lost_at = time.monotonic()

    @property
    def leading(self) -> bool:
        return self.elector.leading.is_set()

    def gauge(self) -> float | None:
        return self.metrics.registry.get_sample_value("seal_leader")


@pytest.fixture
def candidates(cluster: Cluster) -> Iterator[list[Candidate]]:
    made: list[Candidate] = []
    yield made
    for candidate in made:
        candidate.elector.stop(release=False)


def holder(cluster: Cluster) -> str:
    lease = yaml.safe_load(cluster.kubectl("get", "lease", "seal", "-n", NAMESPACE, "-o", "yaml"))
    return str(lease["spec"].get("holderIdentity") or "")


def test_exactly_one_leader_and_kubectl_shows_it(
    cluster: Cluster, candidates: list[Candidate]
) -> None:
    candidates += [Candidate(cluster, "seal-a"), Candidate(cluster, "seal-b")]
    for c in candidates:
        c.elector.start()
    wait_for(lambda: any(c.leading for c in candidates), timeout=10, what="a leader")
    for _ in range(15):  # over several renewals, never two leaders
        assert sum(c.leading for c in candidates) == 1
        time.sleep(0.1)
    (leader,) = [c for c in candidates if c.leading]
    (standby,) = [c for c in candidates if not c.leading]
    assert holder(cluster) == leader.elector.identity
    assert (leader.gauge(), standby.gauge()) == (1.0, 0.0)
    assert (leader.health.role, standby.health.role) == ("leader", "standby")
    time.sleep(1.2)
    # the standby's loop is the election, alive; the leader's is its run, which renewals
    # do not stand in for (it runs nothing here)
    assert standby.health.liveness()[0] == 200
    assert leader.health.liveness()[0] == 503
    assert leader.lost_at is None


def test_a_dead_leader_is_replaced_once_its_lease_expires(
    cluster: Cluster, candidates: list[Candidate]
) -> None:
    first = Candidate(cluster, "seal-a")
    candidates.append(first)
    first.elector.start()
    wait_for(lambda: first.leading, timeout=10, what="the first leader")
    second = Candidate(cluster, "seal-b")
    candidates.append(second)
    second.elector.start()
    time.sleep(1.0)
    assert not second.leading  # the lease is renewed: the standby waits
    first.elector.stop(release=False)  # dies: no renewal, no release
    died = time.monotonic()
    wait_for(lambda: second.leading, timeout=10, what="the standby to take over")
    took = time.monotonic() - died
    assert LEASE_SECONDS - 0.5 <= took <= LEASE_SECONDS + 2.0, took
    assert holder(cluster) == "seal-b"


def test_a_leader_cut_off_from_the_api_stops_before_its_lease_expires(
    cluster: Cluster, candidates: list[Candidate], proxy: Proxy
) -> None:
    cut_off = Candidate(cluster, "seal-a", proxy.client(cluster.box, timeout=0.5))
    candidates.append(cut_off)
    cut_off.elector.start()
    wait_for(lambda: cut_off.leading, timeout=10, what="the leader")
    other = Candidate(cluster, "seal-b")
    candidates.append(other)
    other.elector.start()
    time.sleep(0.5)
    proxy.block()
    blocked = time.monotonic()
    wait_for(lambda: cut_off.lost_at is not None, timeout=10, what="the leader to stop")
    assert cut_off.lost_at is not None
    stopped_after = cut_off.lost_at - blocked
    # it stops at its renew deadline (1 s after its last renewal), before the lease's 2 s
    assert stopped_after < LEASE_SECONDS - 0.3, stopped_after
    assert not cut_off.leading and cut_off.gauge() == 0.0
    assert cut_off.health.readiness()[0] == 503  # stepping down is not ready
    wait_for(lambda: other.leading, timeout=10, what="the other to take over")
    assert time.monotonic() - blocked >= LEASE_SECONDS - 0.5
    assert holder(cluster) == "seal-b"


def test_a_clean_exit_releases_the_lease_and_the_standby_takes_over_at_once(
    cluster: Cluster, candidates: list[Candidate]
) -> None:
    first = Candidate(cluster, "seal-a")
    candidates.append(first)
    first.elector.start()
    wait_for(lambda: first.leading, timeout=10, what="the first leader")
    second = Candidate(cluster, "seal-b")
    candidates.append(second)
    second.elector.start()
    time.sleep(0.5)
    first.elector.stop(release=True)
    released = time.monotonic()
    assert holder(cluster) in ("", "seal-b")
    wait_for(lambda: second.leading, timeout=10, what="the standby to take over")
    assert time.monotonic() - released < 1.0  # no wait for expiry
    assert first.lost_at is None
    assert transitions(cluster) == 1  # the takeover after a release is a change of holder


def transitions(cluster: Cluster) -> int:
    lease = yaml.safe_load(cluster.kubectl("get", "lease", "seal", "-n", NAMESPACE, "-o", "yaml"))
    return int(lease["spec"].get("leaseTransitions") or 0)


def test_a_leader_cut_off_asks_the_run_to_stop_and_raises_after_it(
    cluster: Cluster, proxy: Proxy
) -> None:
    """`elected` wires the elector to the run: it yields once this seal leads, a lost lease
    requests the shutdown (the run's waits end and its undos run), and leaving raises."""
    kube = proxy.client(cluster.box)
    identity = identify(cluster.kube)
    services = SimpleNamespace(
        state=State("kubernetes", NAMESPACE, SHORT),
        connection=kube.connection,
        options=SimpleNamespace(environ={"POD_NAME": "seal-x"}),
        metrics=PrometheusMetrics(),
        health=Health(),
        clock=SystemClock(),
        journal=UndoJournal(
            ConfigMapStore(cluster.kube, NAMESPACE, configmap_name(identity.uid)),
            identity=identity,
        ),
    )
    lost = pytest.raises(LeadershipLost, match="lost the leadership")
    with lost, elected(services) as leading:
        assert leading and services.health.role == "leader"
        assert holder(cluster) == "seal-x"
        proxy.block()
        blocked = time.monotonic()
        with pytest.raises(ShutdownRequested):
            services.clock.sleep(30)  # a step's wait, cut short
        assert time.monotonic() - blocked < LEASE_SECONDS - 0.3
    assert services.metrics.registry.get_sample_value("seal_leader") == 0.0

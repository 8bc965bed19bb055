"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics, so that of
several seal replicas only one runs scenarios.

- A candidate takes the lease when there is none, when its holder released it (empty
  holderIdentity), or when it expired: its record has not changed for
  leaseDurationSeconds, measured on this process's own clock from when the record was
  first seen (as client-go does, so clocks that disagree between machines do not matter).
- The leader renews every retry period. A leader that has not renewed for the renew
  deadline (or sees another holder) stops acting: `on_lost` asks the run to stop, which
  undoes what it started, while the lease is still its own (the renew deadline is shorter
  than the lease duration).
- On a clean exit the leader releases the lease (holderIdentity cleared), so the next
  replica takes over at once rather than after the lease duration.

The election runs in a thread of its own, on the real clock; each call to the API server is
bounded by the time left before the renew deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any

from seal.adapters.kube import KubeClient
from seal.clock import Clock
from seal.errors import ConflictError, KubeError, NotFoundError, SealError, ShutdownRequested
from seal.metrics import Metrics
from seal.runtime.health import Health
from seal.runtime.state import Election, holder_identity

log = logging.getLogger(__name__)
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
#: client-go's jitter on the retry period of a candidate
JITTER = 1.2


class LeadershipLost(SealError):
    """This seal was the leader and could not keep the lease: it undid what it started
    and exits, so that it comes back as a standby (Kubernetes restarts it)."""


def micro_time(seconds: float) -> str:
    """A MicroTime, as the API writes it."""
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate for the lease `election.lease_name` in `namespace`."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        identity: str,
        election: Election,
        *,
        metrics: Metrics,
        health: Health | None = None,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.identity = identity
        self.election = election
        self.metrics = metrics
        self.health = health
        self.on_lost = on_lost
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._observed: tuple[dict[str, Any], float] | None = None
        self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-lease")
        self._thread = threading.Thread(target=self._run, name="seal-election", daemon=True)
        self._rng = random.Random()

    @property
    def path(self) -> str:
        return LEASES.format(namespace=self.namespace) + f"/{self.election.lease_name}"

    @property
    def where(self) -> str:
        return f"lease {self.namespace}/{self.election.lease_name}"

    def start(self) -> None:
        self._role("standby")
        self.metrics.leader(False)
        log.info("leader election: %s, as %s", self.where, self.identity)
        self._thread.start()

    def wait_for_leadership(self, clock: Clock, poll: float = 0.2) -> None:
        """Block until this seal leads; `ShutdownRequested` when seal is stopped first."""
        while not self.leading.wait(poll):
            clock.check()

    def stop(self, *, release: bool = True) -> None:
        """Stop the election; release the lease if this seal holds it (a clean exit)."""
        self._stop.set()
        self._thread.join(timeout=self.election.renew_deadline + 5)
        if release and self.leading.is_set() and not self.lost.is_set():
            self._call(self._release, self.election.retry_period * 2)
        if self.leading.is_set():
            self.leading.clear()
            self.metrics.leader(False)
        self._calls.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        try:
            self._acquire()
            if not self._stop.is_set():
                self._renew()
        except Exception:  # the thread must say why it ends
            log.exception("leader election stopped")
            if self.leading.is_set():
                self._lose("the election failed")

    def _acquire(self) -> None:
        period = self.election.retry_period
        while not self._stop.is_set():
            if self._call(self._try_acquire_or_renew, period):
                self.leading.set()
                self._role("leader")
                self.metrics.leader(True)
                log.warning("became the leader (%s, holder %s)", self.where, self.identity)
                return
            self._stop.wait(period * (1 + self._rng.random() * (JITTER - 1)))

    def _renew(self) -> None:
        election = self.election
        renewed = time.monotonic()
        while not self._stop.wait(election.retry_period):
            left = election.renew_deadline - (time.monotonic() - renewed)
            result = self._call(self._try_acquire_or_renew, max(0.05, left))
            if result is True:
                renewed = time.monotonic()
                continue
            if result == "taken":
                self._lose("another seal holds the lease")
                return
            if time.monotonic() - renewed >= election.renew_deadline:
                self._lose(f"could not renew it for {election.renew_deadline:g}s")
                return

    def _lose(self, why: str) -> None:
        self.lost.set()
        self.leading.clear()
        self._role("stepping down")
        self.metrics.leader(False)
        log.error(
            "lost the leadership (%s: %s): stopping the run and undoing what it changed, "
            "before the lease can expire",
            self.where,
            why,
        )
        self.on_lost()

    def _role(self, role: str) -> None:
        if self.health is not None:
            self.health.role = role

    def _call(self, attempt: Callable[[], Any], timeout: float) -> Any:
        """One bounded attempt: its result, or False when it failed or took too long."""
        try:
            return self._calls.submit(attempt).result(timeout=timeout)
        except FutureTimeout:
            log.warning("%s: the API server did not answer within %.1fs", self.where, timeout)
        except KubeError as exc:
            log.warning("%s: %s", self.where, exc)
        except RuntimeError:  # the executor was shut down
            pass
        return False

    # ------------------------------------------------------------------ one attempt
    def _try_acquire_or_renew(self) -> bool | str:
        """True when this seal holds the lease now; "taken" when another one does; False
        when the attempt failed (a conflict: someone wrote first)."""
        now = time.time()
        try:
            lease = self.kube.request("GET", self.path)
        except NotFoundError:
            return self._create(now)
        if self.health is not None and not self.leading.is_set():
            # a standby's loop is this one: an answer is progress (a leader's progress is
            # its run's, which renewals must not hide)
            self.health.progress()
        spec = dict(lease.get("spec") or {})
        observed = self._observed
        if observed is None or observed[0] != spec:
            self._observed = observed = (spec, time.monotonic())
        holder = str(spec.get("holderIdentity") or "")
        duration = float(spec.get("leaseDurationSeconds") or 0)
        if holder and holder != self.identity and observed[1] + duration > time.monotonic():
            return "taken" if self.leading.is_set() else False
        mine = holder == self.identity
        new = dict(spec)
        new.update(holderIdentity=self.identity, renewTime=micro_time(now))
        new["leaseDurationSeconds"] = math.ceil(self.election.lease_duration)
        if not mine:
            new["acquireTime"] = micro_time(now)
            # every change of holder counts, a takeover after a release (holder "") too
            new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        body = dict(lease, spec=new)
        try:
            self.kube.request("PUT", self.path, body=body)
        except ConflictError:
            return False
        self._observed = (new, time.monotonic())
        return True

    def _create(self, now: float) -> bool:
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.election.lease_duration),
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": 0,
        }
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.election.lease_name, "namespace": self.namespace},
            "spec": spec,
        }
        try:
            self.kube.request("POST", LEASES.format(namespace=self.namespace), body=body)
        except ConflictError:
            return False
        self._observed = (spec, time.monotonic())
        return True

    def _release(self) -> bool:
        """Clear the holder, so that the next candidate need not wait for expiry."""
        lease = self.kube.request("GET", self.path)
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            return False
        now = micro_time(time.time())
        spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=now, acquireTime=now)
        try:
            self.kube.request("PUT", self.path, body=dict(lease, spec=spec))
        except ConflictError:
            return False
        log.info("released the leadership (%s)", self.where)
        return True


@contextmanager
def elected(services: Any) -> Iterator[bool]:
    """With leader election on (`services.state.election`), wait as a standby until this
    seal leads, read the journal again (the last leader may have left undos), and yield
    True; False when seal was stopped while a standby. A leader that loses the lease asks
    the run to stop (it undoes what it started) and `LeadershipLost` is raised after it,
    so that seal exits and comes back as a standby. Without election: True at once."""
    state = services.state
    if state is None or state.election is None:
        yield True
        return
    election = state.election
    kube = KubeClient(services.connection, timeout=max(1.0, election.retry_period))
    elector = LeaderElector(
        kube,
        state.namespace,
        holder_identity(services.options.environ),
        election,
        metrics=services.metrics,
        health=services.health,
        on_lost=services.clock.request_shutdown,
    )
    elector.start()
    try:
        try:
            log.info("standby: waiting for the leadership (%s)", elector.where)
            elector.wait_for_leadership(services.clock)
        except ShutdownRequested:
            yield False
            return
        services.journal.reload()  # what the last leader left is carried out first
        services.metrics.pending_undos(len(services.journal))
        yield True
    finally:
        elector.stop(release=True)
    if elector.lost.is_set():
        raise LeadershipLost(
            f"lost the leadership ({elector.where}); what this seal changed was undone (see "
            "above); exiting so that it comes back as a standby"
        )

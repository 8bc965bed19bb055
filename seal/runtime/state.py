"""Where seal keeps its state, and whether it elects a leader: `--state-backend`
(`file`, `kubernetes`, or `auto`: `kubernetes` when seal runs in a pod), the namespace of
the in-cluster journal and lease, and the leader election's timings.

Reads the environment and the service account's namespace file; opens the journal.
"""

from __future__ import annotations

import math
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seal.adapters.identity import ClusterIdentity
from seal.adapters.kube import KubeClient
from seal.adapters.kubeconfig import SERVICE_ACCOUNT
from seal.clock import Clock
from seal.errors import KubeError, NotFoundError, UsageError
from seal.runtime.journal import UndoJournal, journal_name
from seal.runtime.journal_configmap import ConfigMapStore, configmap_name

Backend = Literal["auto", "file", "kubernetes"]
BACKENDS: tuple[Backend, ...] = ("auto", "file", "kubernetes")
DEFAULT_LEASE_NAME = "seal-leader"


@dataclass(frozen=True)
class Election:
    """Leader election's settings (client-go's defaults: 15 s, 10 s, 2 s)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    lease_name: str = DEFAULT_LEASE_NAME

    def check(self) -> None:
        """`UsageError` unless retry period < renew deadline < lease duration, all above 0."""
        values = (self.lease_duration, self.renew_deadline, self.retry_period)
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise UsageError("the --leader-elect-* durations must be numbers of seconds above 0")
        if not self.renew_deadline < self.lease_duration:
            raise UsageError(
                f"--leader-elect-renew-deadline {self.renew_deadline:g} must be shorter than "
                f"--leader-elect-lease-duration {self.lease_duration:g}: a leader that cannot "
                "renew must stop acting before its lease can expire"
            )
        if not self.retry_period < self.renew_deadline:
            raise UsageError(
                f"--leader-elect-retry-period {self.retry_period:g} must be shorter than "
                f"--leader-elect-renew-deadline {self.renew_deadline:g}"
            )


@dataclass(frozen=True)
class StateOptions:
    """The flags as given; `resolve` decides what `auto` and the defaults mean."""

    backend: Backend = "auto"
    namespace: str | None = None
    #: None: on when the backend is kubernetes
    leader_elect: bool | None = None
    election: Election = Election()


@dataclass(frozen=True)
class State:
    """Where the journal lives and whether to elect a leader, decided."""

    backend: Literal["file", "kubernetes"]
    namespace: str
    election: Election | None


def own_namespace(
    environ: Mapping[str, str], service_account: Path = SERVICE_ACCOUNT
) -> str | None:
    """The pod's namespace: POD_NAMESPACE, else the service account's namespace file."""
    if environ.get("POD_NAMESPACE"):
        return environ["POD_NAMESPACE"]
    try:
        return (service_account / "namespace").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def in_pod(environ: Mapping[str, str], service_account: Path = SERVICE_ACCOUNT) -> bool:
    """Whether seal runs in a pod: KUBERNETES_SERVICE_HOST and the service account's
    namespace file, or POD_NAMESPACE (the downward API)."""
    if environ.get("POD_NAMESPACE"):
        return True
    return (
        bool(environ.get("KUBERNETES_SERVICE_HOST")) and (service_account / "namespace").is_file()
    )


def resolve_state(
    options: StateOptions, environ: Mapping[str, str], service_account: Path = SERVICE_ACCOUNT
) -> State:
    """What the options mean here; `UsageError` when they cannot work together."""
    backend = options.backend
    if backend == "auto":
        backend = "kubernetes" if in_pod(environ, service_account) else "file"
    namespace = options.namespace or own_namespace(environ, service_account) or ""
    elect = options.leader_elect if options.leader_elect is not None else backend == "kubernetes"
    if (backend == "kubernetes" or elect) and not namespace:
        users = {
            (True, True): "the journal in the cluster and leader election need",
            (True, False): "the journal in the cluster needs",
            (False, True): "leader election needs",
        }[(backend == "kubernetes", elect)]
        raise UsageError(
            f"{users} a namespace: give --state-namespace (in a pod it comes from "
            "POD_NAMESPACE or the service account)"
        )
    if elect:
        options.election.check()
    return State(backend, namespace, options.election if elect else None)


def open_journal(
    state: State, state_dir: Path, kube: KubeClient, identity: ClusterIdentity, clock: Clock
) -> UndoJournal:
    """The cluster's journal: a file of the state directory, or a ConfigMap. `UsageError`
    when the namespace of the ConfigMap or of the lease does not exist."""
    if state.backend == "kubernetes" or state.election is not None:
        check_namespace(kube, state.namespace)
    if state.backend == "kubernetes":
        store = ConfigMapStore(kube, state.namespace, configmap_name(identity.uid))
        return UndoJournal(store, clock=clock, identity=identity)
    return UndoJournal(state_dir / journal_name(identity.uid), clock=clock, identity=identity)


def check_namespace(kube: KubeClient, namespace: str) -> None:
    """`UsageError` when `namespace` does not exist: a 404 there would otherwise read as an
    empty journal, or as a lease to create, forever. A seal not allowed to read the
    namespace (a Role grants no namespace) goes on: its own namespace exists."""
    try:
        kube.request("GET", f"/api/v1/namespaces/{namespace}")
    except NotFoundError:
        raise UsageError(
            f"--state-namespace {namespace}: no such namespace in the cluster (the journal's "
            "ConfigMap and the leader lease live there)"
        ) from None
    except KubeError as exc:
        if exc.status != 403:
            raise


def holder_identity(environ: Mapping[str, str]) -> str:
    """Who holds the lease: POD_NAME, else the host name and a random suffix."""
    return environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4().hex[:12]}"

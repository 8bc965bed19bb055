"""The flags of where seal keeps its undo journal (`--state-backend`, `--state-namespace`)
and of leader election (`--leader-elect` and its timings), handed over as one `state`
argument (a `seal.runtime.state.StateOptions`)."""

from __future__ import annotations

import functools
from typing import Any

import click

from seal.cli.options import option

_SECONDS = click.FloatRange(min=0, min_open=True)


def backend_options(function: Any) -> Any:
    """--state-backend and --state-namespace, handed over as `state`."""

    @functools.wraps(function)
    def wrapper(*args: Any, state_backend: str, state_namespace: str | None, **kwargs: Any) -> Any:
        from seal.runtime.state import StateOptions

        state = StateOptions(backend=state_backend, namespace=state_namespace)  # type: ignore[arg-type]
        return function(*args, state=state, **kwargs)

    for decorator in (
        option(
            "--state-namespace",
            help="The namespace of the journal's ConfigMap and the leader lease (default: "
            "POD_NAMESPACE, or the service account's namespace).",
        ),
        option(
            "--state-backend",
            type=click.Choice(["auto", "kubernetes", "file"]),
            default="auto",
            show_default=True,
            help="Where the undo journal lives: a file of --state-dir, or a ConfigMap in the "
            "cluster (survives the pod); auto: kubernetes when seal runs in a pod.",
        ),
    ):
        wrapper = decorator(wrapper)
    return wrapper


#: leader election's flags
_ELECTION_FLAGS = [
    option(
        "--leader-elect/--no-leader-elect",
        default=None,
        help="Run scenarios only while holding the leader lease, so that one of "
        "several replicas acts (default: on with the kubernetes state backend).",
    ),
    option(
        "--leader-elect-lease-duration",
        type=_SECONDS,
        default=15.0,
        show_default=True,
        help="Seconds a standby waits, from the last renewal it saw, before it takes the lease.",
    ),
    option(
        "--leader-elect-renew-deadline",
        type=_SECONDS,
        default=10.0,
        show_default=True,
        help="Seconds the leader keeps trying to renew before it stops acting.",
    ),
    option(
        "--leader-elect-retry-period",
        type=_SECONDS,
        default=2.0,
        show_default=True,
        help="Seconds between two attempts to take or renew the lease.",
    ),
    option(
        "--leader-elect-lease-name",
        default="seal-leader",
        show_default=True,
        help="The Lease (in --state-namespace) the replicas compete for.",
    ),
]


def state_options(function: Any) -> Any:
    """The backend flags and leader election's, handed over as `state`."""

    @functools.wraps(function)
    def wrapper(
        *args: Any,
        state: Any,
        leader_elect: bool | None,
        leader_elect_lease_duration: float,
        leader_elect_renew_deadline: float,
        leader_elect_retry_period: float,
        leader_elect_lease_name: str,
        **kwargs: Any,
    ) -> Any:
        import dataclasses

        from seal.runtime.state import Election

        election = Election(
            leader_elect_lease_duration,
            leader_elect_renew_deadline,
            leader_elect_retry_period,
            leader_elect_lease_name,
        )
        if leader_elect is not False:
            election.check()
        state = dataclasses.replace(state, leader_elect=leader_elect, election=election)
        return function(*args, state=state, **kwargs)

    for decorator in reversed(_ELECTION_FLAGS):
        wrapper = decorator(wrapper)
    return backend_options(wrapper)

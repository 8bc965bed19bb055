"""What every driver shares: bounded retries of transient errors, bounded waiting for
a machine's state, and errors that name the machine. No I/O of its own; the
callables it is given do the talking, and `sleep`/`monotonic` are injectable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from seal.errors import CloudError
from seal.model import Machine, NodeState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Pacing:
    """How often, and how long, a driver retries and polls. Tests make it fast."""

    attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 20.0
    poll_seconds: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def fast(cls) -> Pacing:
        return cls(attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.05, poll_seconds=0.02)


def retrying(
    call: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    what: str,
    pacing: Pacing,
) -> T:
    """`call()`, again after an exponential backoff while it fails with a transient error,
    at most `pacing.attempts` times; the last error propagates."""
    delay = pacing.backoff_seconds
    for attempt in range(1, pacing.attempts + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == pacing.attempts or not transient(exc):
                raise
            log.warning("%s: %s; retrying (%d/%d)", what, exc, attempt, pacing.attempts - 1)
            pacing.sleep(delay)
            delay = min(delay * 2, pacing.max_backoff_seconds)
    raise AssertionError("unreachable: the loop returns or raises")


def wait_for_state(
    get: Callable[[str], Machine],
    machine: Machine,
    state: NodeState,
    *,
    timeout: float,
    pacing: Pacing,
) -> Machine:
    """Poll `get(provider_id)` until the machine is in `state`; `CloudError` at the deadline."""
    deadline = pacing.monotonic() + timeout
    while True:
        current = get(machine.provider_id)
        if current.state is state:
            return current
        left = deadline - pacing.monotonic()
        if left <= 0:
            seen = current.cloud_state or current.state.value
            raise CloudError(
                f"machine {machine.describe()}: still {seen} after {timeout:g}s "
                f"waiting for it to be {state.value}"
            )
        pacing.sleep(min(pacing.poll_seconds, left))


def failure(machine: Machine | str, action: str, reason: object) -> CloudError:
    """`CloudError` naming what was tried on which machine, and the cloud's reason."""
    name = machine.describe() if isinstance(machine, Machine) else machine
    return CloudError(f"cannot {action} machine {name}: {reason}")


def parse_provider_id(provider_id: str, scheme: str) -> str:
    """What follows `scheme://` in a provider ID; `CloudError` when it is another cloud's."""
    prefix = f"{scheme}://"
    if not provider_id.startswith(prefix) or len(provider_id) == len(prefix):
        raise CloudError(
            f"provider ID {provider_id!r} is not a {scheme} machine (expected {prefix}...)"
        )
    return provider_id[len(prefix) :]

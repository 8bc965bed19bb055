"""How fast the simulated cluster reacts. No I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxTiming:
    #: from scheduled to Running and Ready
    pod_start_seconds: float = 1.0
    #: how long a pod takes to exit once asked to stop (capped by its grace period)
    pod_stop_seconds: float = 0.5
    #: from a machine stopping to its node being NotReady
    node_not_ready_seconds: float = 2.0
    #: from a node being NotReady to its pods being evicted
    pod_eviction_seconds: float = 5.0
    #: from a machine starting to its node being Ready
    node_ready_seconds: float = 1.0
    #: how often controllers reconcile what changed
    tick_seconds: float = 0.05
    #: how long events are kept (the API server's --event-ttl)
    event_ttl_seconds: float = 3600.0
    #: how long a pod's command runs before it exits (pods that run to completion)
    command_seconds: float = 0.2

    @classmethod
    def fast(cls) -> SandboxTiming:
        """Timings for tests: everything happens within a fraction of a second."""
        return cls(0.1, 0.05, 0.2, 0.3, 0.1, 0.02, command_seconds=0.05)

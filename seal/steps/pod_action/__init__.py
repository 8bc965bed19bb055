"""The `podAction` step: match pods, filter them, act on them (kill, check, stop their host).

`spec` holds what a policy says (no I/O); `run` acts through the step's context.
"""

from __future__ import annotations

from seal.steps.base import ApiCall, StepType
from seal.steps.pod_action.run import kill_pods, run
from seal.steps.pod_action.spec import (
    SCHEMA,
    DeploymentMatcher,
    KillAction,
    PodActionSpec,
    StopHostAction,
    build,
)

__all__ = ["STEP", "KillAction", "PodActionSpec", "kill_pods"]


def api_calls(spec: PodActionSpec) -> tuple[ApiCall, ...]:
    calls = [
        ApiCall("list", "pods"),
        ApiCall("list", "namespaces"),
        ApiCall("create", "events"),
    ]
    if any(isinstance(m, DeploymentMatcher) for m in spec.matches):
        calls.append(ApiCall("get", "deployments", "apps"))
    for action in spec.actions:
        if isinstance(action, KillAction):
            calls.append(
                ApiCall("create", "pods", subresource="eviction")
                if action.evict
                else ApiCall("delete", "pods")
            )
        elif isinstance(action, StopHostAction):
            calls += [ApiCall("list", "nodes"), ApiCall("create", "events")]
    return tuple(dict.fromkeys(calls))


STEP = StepType(
    key="podAction",
    spec=PodActionSpec,
    schema=SCHEMA,
    builder=build,
    runner=run,
    description="match pods, filter them, act on them",
    api_calls=api_calls,
    retries_of=lambda spec: spec.retries,
)

"""The `podAction` step: match pods, filter them, act on them (kill, check, stop their host).

`spec` holds what a policy says (no I/O); `run` acts through the step's context.
"""

from __future__ import annotations

from seal.steps import recovery
from seal.steps.base import EVENT_VERBS, ApiCall, StepType
from seal.steps.pod_action.run import kill_pods, run
from seal.steps.pod_action.spec import (
    SCHEMA,
    DeploymentMatcher,
    KillAction,
    NamespaceMatcher,
    PodActionSpec,
    PodMatcher,
    StopHostAction,
    build,
)

__all__ = ["STEP", "KillAction", "PodActionSpec", "kill_pods"]


def _listed(matcher: PodMatcher) -> tuple[list[ApiCall], tuple[str | None, ...]]:
    """What a matcher lists, and the namespaces of the pods it may find (None: any)."""
    if isinstance(matcher, NamespaceMatcher):
        if matcher.namespace == "*" or matcher.is_pattern:
            return [ApiCall("list", "pods")], (None,)
        if len(matcher.names) > 1:  # one LIST of every namespace's pods, then kept by name
            return [ApiCall("list", "pods")], matcher.names
        return [ApiCall("list", "pods", namespace=matcher.names[0])], matcher.names
    calls = [ApiCall("list", "pods", namespace=matcher.namespace)]
    if isinstance(matcher, DeploymentMatcher):
        calls.insert(0, ApiCall("get", "deployments", "apps", "", matcher.namespace, matcher.name))
    return calls, (matcher.namespace,)


def api_calls(spec: PodActionSpec) -> tuple[ApiCall, ...]:
    # the namespaces are listed for the safety screen and to say why a match was empty
    calls = [ApiCall("list", "namespaces")]
    where: list[str | None] = []
    for matcher in spec.matches:
        listed, namespaces = _listed(matcher)
        calls += listed
        where += namespaces
    for action in spec.actions:
        if isinstance(action, KillAction):
            verb, sub = ("create", "eviction") if action.evict else ("delete", "")
            calls += [ApiCall(verb, "pods", subresource=sub, namespace=ns) for ns in where]
            # an Event per pod; many kills of one owner fold into a summary whose count grows
            calls += [ApiCall(v, "events", namespace=ns) for ns in where for v in EVENT_VERBS]
            if action.recovered_within is not None:
                calls += recovery.api_calls(where)
        elif isinstance(action, StopHostAction):
            # node Events are recorded in namespace default
            calls += [ApiCall("list", "nodes")]
            calls += [ApiCall(v, "events", namespace="default") for v in EVENT_VERBS]
            if action.recovered_within is not None:  # the pods of the nodes, anywhere
                calls += recovery.api_calls([None])
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

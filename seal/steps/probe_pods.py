"""The `probePods` step: how many pods of a selector are Ready, or in a phase."""

from __future__ import annotations

from typing import Any, ClassVar

from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import obj, string
from seal.steps import tolerance
from seal.steps.base import ApiCall, StepContext, StepType
from seal.steps.tolerance import Tolerance

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
CONDITIONS = ("Ready", *PHASES)


@frozen
class ProbePodsSpec:
    """Count the pods of a selector that are Ready (or in a phase) against a tolerance."""

    key: ClassVar[str] = "probePods"
    namespace: str
    location: Location
    selector: str = ""
    condition: str = "Ready"
    #: None: every pod matched, and at least one
    count: Tolerance | None = None


def build(node: DocNode) -> ProbePodsSpec:
    return ProbePodsSpec(
        namespace=str(node.get("namespace", "")),
        location=node.location,
        selector=str(node.get("selector", "")),
        condition=str(node.get("condition", "Ready")),
        count=tolerance.build(node.child("count")) if node.has("count") else None,
    )


def meets(pod: dict[str, Any], condition: str) -> bool:
    """True when the pod (not being deleted) is Ready, or in the phase `condition`."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if condition != "Ready":
        return bool(status.get("phase") == condition)
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def observe(spec: ProbePodsSpec, ctx: StepContext) -> tuple[int, int]:
    """How many pods meet the condition, out of how many the selector matches."""
    pods = ctx.kube.list_pod_objects(spec.namespace, label_selector=spec.selector or None)
    return sum(meets(p, spec.condition) for p in pods), len(pods)


def run(spec: ProbePodsSpec, ctx: StepContext) -> StepOutcome:
    good, total = observe(spec, ctx)
    where = f"pods {spec.selector or '(all)'} in {spec.namespace}"
    seen = f"{good} of {total} pod(s) {spec.condition}"
    problem: str | None
    if spec.count is not None:
        problem = None if spec.count.holds(good) else f"{seen}; expected {spec.count}"
    elif total == 0:
        problem = f"no pod matches; expected every one {spec.condition}, at least one"
    else:
        problem = None if good == total else f"{seen}; expected all {total} {spec.condition}"
    return tolerance.verdict(ctx, f"probePods {where}", problem, seen)


def api_calls(spec: ProbePodsSpec) -> tuple[ApiCall, ...]:
    return (ApiCall("list", "pods", namespace=spec.namespace),)


DESCRIPTION = "count the pods of a selector that are Ready, or in a phase"
STEP = StepType(
    key="probePods",
    spec=ProbePodsSpec,
    schema=obj(
        {
            "namespace": string("the pods' namespace", minLength=1),
            "selector": string("a label selector, e.g. app=web (default: every pod)"),
            "condition": string(
                "Ready, or a phase the pods must be in", enum=list(CONDITIONS), default="Ready"
            ),
            "count": tolerance.schema(
                "how many pods must meet the condition (default: every one, at least one)"
            ),
        },
        required=["namespace"],
        description=DESCRIPTION,
    ),
    builder=build,
    runner=run,
    description=DESCRIPTION,
    api_calls=api_calls,
)

"""The `probeDeployment` step: a Deployment's available replicas against its desired ones."""

from __future__ import annotations

from typing import ClassVar

from seal.errors import NotFoundError
from seal.frozen import frozen
from seal.outcomes import StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import obj, string
from seal.steps import tolerance
from seal.steps.base import ApiCall, StepContext, StepType
from seal.steps.probe_pods import meets
from seal.steps.tolerance import Tolerance


@frozen
class ProbeDeploymentSpec:
    """Check a Deployment's available (and ready) replicas."""

    key: ClassVar[str] = "probeDeployment"
    name: str
    namespace: str
    location: Location
    #: None: as many available and ready replicas as desired
    available: Tolerance | None = None


def build(node: DocNode) -> ProbeDeploymentSpec:
    return ProbeDeploymentSpec(
        name=str(node.get("name", "")),
        namespace=str(node.get("namespace", "")),
        location=node.location,
        available=tolerance.build(node.child("available")) if node.has("available") else None,
    )


def _count(status: dict[str, object], key: str) -> int:
    value = status.get(key)
    return value if isinstance(value, int) else 0


def run(spec: ProbeDeploymentSpec, ctx: StepContext) -> StepOutcome:
    what = f"probeDeployment {spec.namespace}/{spec.name}"
    try:
        deployment = ctx.kube.get_deployment(spec.namespace, spec.name)
    except NotFoundError:
        return tolerance.verdict(ctx, what, "the Deployment does not exist", "")
    desired_value = (deployment.get("spec") or {}).get("replicas", 1)
    desired = desired_value if isinstance(desired_value, int) else 1
    status = deployment.get("status") or {}
    available, ready = _count(status, "availableReplicas"), _count(status, "readyReplicas")
    seen = f"{available} available and {ready} ready of {desired} desired replica(s)"
    problem: str | None
    if spec.available is not None:
        held = spec.available.holds(available)
        problem = None if held else f"{seen}; expected available {spec.available}"
        return tolerance.verdict(ctx, what, problem, seen)
    # The status lags a pod's deletion: its Ready pods, not being deleted, are counted too.
    selector = ctx.kube.deployment_selector(spec.namespace, spec.name)
    pods = ctx.kube.list_pod_objects(spec.namespace, label_selector=selector or None)
    ready_pods = sum(meets(pod, "Ready") for pod in pods)
    seen += f", {ready_pods} Ready pod(s)"
    if available == desired and ready == desired and ready_pods >= desired:
        problem = None
    else:
        problem = f"{seen}; expected all {desired} available and ready"
    return tolerance.verdict(ctx, what, problem, seen)


def api_calls(spec: ProbeDeploymentSpec) -> tuple[ApiCall, ...]:
    return (
        ApiCall("get", "deployments", group="apps", namespace=spec.namespace, name=spec.name),
        ApiCall("list", "pods", namespace=spec.namespace),
    )


DESCRIPTION = "check a Deployment's available replicas against its desired ones"
STEP = StepType(
    key="probeDeployment",
    spec=ProbeDeploymentSpec,
    schema=obj(
        {
            "name": string("the Deployment", minLength=1),
            "namespace": string(minLength=1),
            "available": tolerance.schema(
                "available replicas allowed (default: all desired, available and ready)"
            ),
        },
        required=["name", "namespace"],
        description=DESCRIPTION,
    ),
    builder=build,
    runner=run,
    description=DESCRIPTION,
    api_calls=api_calls,
)

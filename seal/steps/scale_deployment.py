"""The `scaleDeployment` step: set a Deployment's replicas; the undo sets them back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from seal.errors import NotFoundError, StepFailed
from seal.frozen import frozen
from seal.outcomes import ActionRecord, StepOutcome
from seal.policy.docnode import DocNode
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, string
from seal.steps.base import ApiCall, StepContext, StepType

log = logging.getLogger(__name__)

SCALE_UNDO = "deployment-scale"


@frozen
class ScaleDeploymentSpec:
    """Scale a Deployment to `replicas`; with `restore`, scale it back at cleanup."""

    key: ClassVar[str] = "scaleDeployment"
    name: str
    namespace: str
    replicas: int
    location: Location
    restore: bool = True


def build(node: DocNode) -> ScaleDeploymentSpec:
    return ScaleDeploymentSpec(
        name=str(node.get("name", "")),
        namespace=str(node.get("namespace", "")),
        replicas=int(node.get("replicas", 0)),
        location=node.location,
        restore=bool(node.get("restore", True)),
    )


def _replicas(deployment: Mapping[str, Any]) -> int:
    value = (deployment.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _set_replicas(ctx: StepContext, namespace: str, name: str, replicas: int) -> int:
    """Scale it; the replicas it had before."""
    deployment = ctx.kube.get_deployment(namespace, name)
    before = _replicas(deployment)
    if before != replicas:
        deployment.setdefault("spec", {})["replicas"] = replicas
        deployment.pop("status", None)
        ctx.kube.replace_deployment(namespace, name, deployment)
    return before


def run(spec: ScaleDeploymentSpec, ctx: StepContext) -> StepOutcome:
    what = f"Deployment {spec.namespace}/{spec.name}"
    try:
        deployment = ctx.kube.get_deployment(spec.namespace, spec.name)
    except NotFoundError as exc:
        raise StepFailed(f"{what} does not exist; nothing to scale") from exc
    before = _replicas(deployment)
    if ctx.dry_run:
        message = f"dry run: would scale {what} from {before} to {spec.replicas} replica(s)"
        log.info(message, extra={"action": "scale", "outcome": "dry-run"})
        return StepOutcome.passed(message)
    if spec.restore and before != spec.replicas:
        ctx.undo.record(
            SCALE_UNDO,
            {"namespace": spec.namespace, "name": spec.name, "replicas": before},
            f"scale {what} back to {before} replica(s)",
        )
    _set_replicas(ctx, spec.namespace, spec.name, spec.replicas)
    message = f"scaled {what} from {before} to {spec.replicas} replica(s)"
    log.info(message, extra={"action": "scale", "outcome": "success"})
    target = f"{spec.namespace}/{spec.name}"
    record = ActionRecord("scale", target, "ok", message, at=ctx.clock.now())
    return StepOutcome("passed", message, 1, actions=(record,))


def undo_scale(payload: Mapping[str, Any], ctx: StepContext) -> None:
    """Set the replicas back to what they were; a Deployment since deleted is fine."""
    namespace, name, replicas = str(payload["namespace"]), str(payload["name"]), payload["replicas"]
    try:
        before = _set_replicas(ctx, namespace, name, int(replicas))
    except NotFoundError:
        log.info("Deployment %s/%s is gone; nothing to scale back", namespace, name)
        return
    log.info(
        "scaled Deployment %s/%s back from %d to %s replica(s)", namespace, name, before, replicas
    )


def api_calls(spec: ScaleDeploymentSpec) -> tuple[ApiCall, ...]:
    where = {"group": "apps", "namespace": spec.namespace, "name": spec.name}
    return (ApiCall("get", "deployments", **where), ApiCall("update", "deployments", **where))


DESCRIPTION = "set a Deployment's replicas (set back at cleanup unless restore is false)"
STEP = StepType(
    key="scaleDeployment",
    spec=ScaleDeploymentSpec,
    schema=obj(
        {
            "name": string("the Deployment", minLength=1),
            "namespace": string(minLength=1),
            "replicas": number("how many replicas it gets", integer=True, minimum=0),
            "restore": boolean(
                "scale it back to its former replicas at cleanup (false: leave it so, "
                "for a step that is itself a rollback)",
                default=True,
            ),
        },
        required=["name", "namespace", "replicas"],
        description=DESCRIPTION,
    ),
    builder=build,
    runner=run,
    description=DESCRIPTION,
    undo_handlers={SCALE_UNDO: undo_scale},
    api_calls=api_calls,
)

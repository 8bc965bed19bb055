"""The `kubectl` step: apply or delete manifests, deleting what was applied at cleanup."""

from __future__ import annotations

from typing import ClassVar, Literal

from seal.frozen import frozen
from seal.policy.build import Node
from seal.policy.problems import Location
from seal.policy.schema import boolean, number, obj, string
from seal.steps.base import StepType


@frozen
class KubectlSpec:
    """The kubectl step: apply or delete a manifest."""

    key: ClassVar[str] = "kubectl"
    action: Literal["apply", "delete"]
    payload: str
    location: Location
    auto_delete: bool = True
    proxy: str | None = None
    kubectl_binary: str = "kubectl"
    timeout_seconds: float = 120.0


def build(node: Node) -> KubectlSpec:
    action: Literal["apply", "delete"] = "delete" if node.get("action") == "delete" else "apply"
    return KubectlSpec(
        action=action,
        payload=str(node.get("payload", "")),
        location=node.location,
        auto_delete=bool(node.get("autoDelete", True)),
        proxy=node.get("proxy"),
        kubectl_binary=str(node.get("kubectlBinary", "kubectl")),
        timeout_seconds=float(node.get("timeoutSeconds", 120)),
    )


STEP = StepType(
    key="kubectl",
    schema=obj(
        {
            "action": string("what kubectl does with the payload", enum=["apply", "delete"]),
            "payload": string("manifest text, given to kubectl as is"),
            "autoDelete": boolean("delete everything applied at cleanup", default=True),
            "proxy": string("proxy for kubectl; HTTP(S)_PROXY from the environment are ignored"),
            "kubectlBinary": string("path of the kubectl program", default="kubectl"),
            "timeoutSeconds": number("give up on kubectl after this long", exclusiveMinimum=0),
        },
        required=["action", "payload"],
        description="apply or delete manifests with kubectl",
    ),
    build=build,
    runner="seal.steps.run_basic:run_kubectl_step",
)

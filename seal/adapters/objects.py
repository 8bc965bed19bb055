"""seal's value types from Kubernetes API objects. No I/O."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from seal.model import Node, NodeState, Pod

Obj = dict[str, Any]


def pod_from_api(obj: Obj) -> Pod:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
    state = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "Unknown")
    return Pod(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        state=state,
        node_name=spec.get("nodeName") or "",
        host_ip=status.get("hostIP") or "",
        labels=MappingProxyType(dict(meta.get("labels") or {})),
        annotations=MappingProxyType(dict(meta.get("annotations") or {})),
        termination_grace_period=spec.get("terminationGracePeriodSeconds"),
        owner=_controller(meta),
    )


def _controller(meta: Obj) -> tuple[str, ...]:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("name", "")), str(ref.get("uid", ""))
    return ()


def node_from_api(obj: Obj) -> Node:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
    labels = dict(meta.get("labels") or {})
    ready = next(
        (c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None
    )
    state = {"True": NodeState.UP, "False": NodeState.DOWN}.get(str(ready), NodeState.UNKNOWN)
    addresses = {
        str(a.get("type")): str(a.get("address", ""))
        for a in reversed(status.get("addresses") or [])
        if isinstance(a, dict)
    }
    zone = labels.get("topology.kubernetes.io/zone") or labels.get(
        "failure-domain.beta.kubernetes.io/zone", ""
    )
    return Node(
        name=meta.get("name", ""),
        ip=addresses.get("InternalIP", ""),
        external_ip=addresses.get("ExternalIP", ""),
        uid=str(meta.get("uid") or ""),
        provider_id=spec.get("providerID") or "",
        zone=zone,
        state=state,
        labels=MappingProxyType(labels),
        groups=tuple(sorted({v for v in labels.values() if v})),
    )

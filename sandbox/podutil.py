"""Small helpers over pod and node objects. No I/O."""

from __future__ import annotations

from typing import Any

from sandbox.store import Obj, now_rfc3339

PROVIDER_PREFIX = "sandbox://"


def condition(obj: Obj, kind: str) -> str | None:
    for entry in obj.get("status", {}).get("conditions") or []:
        if entry.get("type") == kind:
            return str(entry.get("status"))
    return None


def set_condition(obj: Obj, kind: str, status: str, reason: str = "", message: str = "") -> None:
    stamp = now_rfc3339()
    conditions: list[dict[str, Any]] = obj.setdefault("status", {}).setdefault("conditions", [])
    for entry in conditions:
        if entry.get("type") == kind:
            if entry.get("status") != status:
                entry["lastTransitionTime"] = stamp
            entry.update({"status": status, "reason": reason, "message": message})
            entry["lastHeartbeatTime" if "lastHeartbeatTime" in entry else "lastProbeTime"] = stamp
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": stamp,
        }
    )


def node_ready(node: Obj) -> bool:
    return condition(node, "Ready") == "True"


def pod_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def owner_uids(obj: Obj) -> list[str]:
    return [str(r.get("uid")) for r in obj["metadata"].get("ownerReferences") or []]


def tolerates(pod: Obj, taint: Obj) -> bool:
    for toleration in pod.get("spec", {}).get("tolerations") or []:
        if toleration.get("operator") == "Exists" and not toleration.get("key"):
            return True
        if toleration.get("key") != taint.get("key"):
            continue
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" or toleration.get("value") == taint.get("value"):
            return True
    return False


def fits(pod: Obj, node: Obj) -> bool:
    """Whether the scheduler may put `pod` on `node`."""
    if not node_ready(node) or node.get("spec", {}).get("unschedulable"):
        return False
    labels = node["metadata"].get("labels") or {}
    for key, value in (pod.get("spec", {}).get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return False
    return True


def container_env(pod: Obj, name: str) -> str | None:
    containers = pod.get("spec", {}).get("containers") or []
    if not containers:
        return None
    for variable in containers[0].get("env") or []:
        if variable.get("name") == name:
            return str(variable.get("value", ""))
    return None

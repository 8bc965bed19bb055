"""Server-side printing: the `Table` answers kubectl asks for, so `kubectl get` shows the
usual columns. No I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from seal.sandbox.podutil import condition
from seal.sandbox.store import Obj

Column = tuple[str, str, int]  # name, type, priority (1: only with -o wide)


def age(obj: Obj, now: float) -> str:
    stamp = obj["metadata"].get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    seconds = max(0, int(now - created.timestamp()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size * 2 or (unit == "m" and seconds >= 120):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _pod(obj: Obj) -> list[Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    containers = obj.get("spec", {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    phase = (
        "Terminating"
        if obj["metadata"].get("deletionTimestamp")
        else obj.get("status", {}).get("phase", "Unknown")
    )
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    return [
        f"{ready}/{len(containers)}",
        phase,
        restarts,
        obj.get("status", {}).get("podIP") or "<none>",
        obj.get("spec", {}).get("nodeName") or "<none>",
    ]


def _node(obj: Obj) -> list[Any]:
    ready = condition(obj, "Ready")
    status = {"True": "Ready", "False": "NotReady"}.get(str(ready), "NotReady")
    if obj.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = obj["metadata"].get("labels") or {}
    roles = (
        ",".join(
            sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
        )
        or "<none>"
    )
    ip = next(
        (
            a["address"]
            for a in obj.get("status", {}).get("addresses") or []
            if a.get("type") == "InternalIP"
        ),
        "<none>",
    )
    version = obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return [status, roles, version, ip]


def _deployment(obj: Obj) -> list[Any]:
    status, wanted = obj.get("status", {}), obj.get("spec", {}).get("replicas", 1)
    return [
        f"{status.get('readyReplicas', 0)}/{wanted}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
    ]


def _replicaset(obj: Obj) -> list[Any]:
    status = obj.get("status", {})
    return [
        obj.get("spec", {}).get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
    ]


def _service(obj: Obj) -> list[Any]:
    spec = obj.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        "<none>",
        ports or "<none>",
    ]


#: plural -> (columns between Name and Age, extra wide columns, cell function)
LAYOUTS: dict[str, tuple[list[Column], list[Column], Callable[[Obj], list[Any]]]] = {
    "pods": (
        [("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "integer", 0)],
        [("IP", "string", 1), ("Node", "string", 1)],
        _pod,
    ),
    "nodes": (
        [("Status", "string", 0), ("Roles", "string", 0)],
        [("Version", "string", 0), ("Internal-IP", "string", 1)],
        _node,
    ),
    "deployments": (
        [("Ready", "string", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0)],
        [],
        _deployment,
    ),
    "replicasets": (
        [("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0)],
        [],
        _replicaset,
    ),
    "services": (
        [
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
        ],
        [],
        _service,
    ),
}


def table(
    plural: str,
    objects: list[Obj],
    resource_version: str,
    now: float,
    continue_token: str | None = None,
) -> Obj:
    middle, wide, cells = LAYOUTS.get(plural, ([], [], lambda obj: []))
    columns = [("Name", "string", 0), *middle, ("Age", "string", 0), *wide]
    rows = []
    for obj in objects:
        values = cells(obj)
        split = len(middle)
        row = [obj["metadata"]["name"], *values[:split], age(obj, now), *values[split:]]
        rows.append(
            {
                "cells": row,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
        )
    metadata: Obj = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": priority,
            }
            for name, kind, priority in columns
        ],
        "rows": rows,
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept

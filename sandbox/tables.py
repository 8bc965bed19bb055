"""Server-side printing: the `Table` answers kubectl asks for, so `kubectl get` shows the
usual columns. No I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sandbox import rbac_tables
from sandbox.podutil import condition
from sandbox.store import ApiError, Obj

Column = tuple[str, str, int]  # name, type, priority (1: only with -o wide)


def age(obj: Obj, now: float) -> str:
    stamp = obj["metadata"].get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    try:
        created = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return "<unknown>"
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    seconds = max(0, int(now - created.timestamp()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size * 2 or (unit == "m" and seconds >= 120):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _pod_status(obj: Obj, statuses: list[Obj]) -> str:
    """The STATUS column as kubectl prints it: Terminating, the pod's reason, else the
    reason of a container that waits or has ended (CrashLoopBackOff, Error, Completed),
    else the phase."""
    status = obj.get("status", {})
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if status.get("reason"):
        return str(status["reason"])
    for container in statuses:
        state = container.get("state") or {}
        waiting, ended = state.get("waiting") or {}, state.get("terminated") or {}
        if waiting.get("reason"):
            return str(waiting["reason"])
        if ended:
            code = ended.get("exitCode", 0)
            return str(ended.get("reason") or f"ExitCode:{code}")
    return str(status.get("phase", "Unknown"))


def _pod(obj: Obj) -> list[Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    containers = obj.get("spec", {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    phase = _pod_status(obj, statuses)
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


def _namespace(obj: Obj) -> list[Any]:
    return [obj.get("status", {}).get("phase", "Active")]


def _configmap(obj: Obj) -> list[Any]:
    return [len(obj.get("data") or {}) + len(obj.get("binaryData") or {})]


def _secret(obj: Obj) -> list[Any]:
    return [obj.get("type") or "Opaque", len(obj.get("data") or {})]


def _endpoints(obj: Obj) -> list[Any]:
    pairs = [
        f"{address.get('ip')}:{port.get('port')}"
        for subset in obj.get("subsets") or []
        for address in subset.get("addresses") or []
        for port in subset.get("ports") or [{}]
    ]
    shown = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [shown or "<none>"]


def _lease(obj: Obj) -> list[Any]:
    return [obj.get("spec", {}).get("holderIdentity") or "<none>"]


def _budget(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [
        spec.get("minAvailable", "N/A"),
        spec.get("maxUnavailable", "N/A"),
        status.get("disruptionsAllowed", 0),
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
    "namespaces": ([("Status", "string", 0)], [], _namespace),
    "configmaps": ([("Data", "integer", 0)], [], _configmap),
    "secrets": ([("Type", "string", 0), ("Data", "integer", 0)], [], _secret),
    "endpoints": ([("Endpoints", "string", 0)], [], _endpoints),
    "leases": ([("Holder", "string", 0)], [], _lease),
    "poddisruptionbudgets": (
        [
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
        ],
        [],
        _budget,
    ),
}

_EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", 0),
    ("Type", "string", 0),
    ("Reason", "string", 0),
    ("Object", "string", 0),
    ("Subobject", "string", 1),
    ("Source", "string", 1),
    ("Message", "string", 0),
    ("First Seen", "string", 1),
    ("Count", "string", 1),
    ("Name", "string", 1),
]


def _since(stamp: str | None, now: float) -> str:
    return age({"metadata": {"creationTimestamp": stamp}}, now) if stamp else "<unknown>"


def _event(obj: Obj, now: float) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    source = obj.get("source") or {}
    last = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )
    first = obj.get("firstTimestamp") or last
    return [
        _since(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(str(v) for v in (source.get("component"), source.get("host")) if v),
        obj.get("message", ""),
        _since(first, now),
        str(obj.get("count", 1)),
        obj["metadata"]["name"],
    ]


def _layout(plural: str, now: float) -> tuple[list[Column], Callable[[Obj], list[Any]]]:
    """The columns of a kind and the function giving one object's row."""
    if plural == "events":
        return _EVENT_COLUMNS, lambda obj: _event(obj, now)
    if plural in rbac_tables.CREATED_AT:
        return rbac_tables.CREATED_AT_COLUMNS, rbac_tables.created_at_row
    middle, wide, cells = LAYOUTS.get(plural) or rbac_tables.LAYOUTS.get(
        plural, ([], [], lambda obj: [])
    )

    def row(obj: Obj) -> list[Any]:
        values = cells(obj)
        split = len(middle)
        return [obj["metadata"]["name"], *values[:split], age(obj, now), *values[split:]]

    return [("Name", "string", 0), *middle, ("Age", "string", 0), *wide], row


#: what a row carries beside its cells (the `includeObject` parameter); Metadata by default
INCLUDE = ("None", "Metadata", "Object")


def include_object(value: str | None) -> str:
    """The `includeObject` query parameter, checked."""
    if not value:
        return "Metadata"
    if value not in INCLUDE:
        raise ApiError(
            400,
            "BadRequest",
            f'includeObject: Unsupported value: "{value}": supported values: '
            + ", ".join(f'"{v}"' for v in INCLUDE),
        )
    return value


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "Object":
        return obj
    if include == "None":
        return None
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    plural: str,
    objects: list[Obj],
    resource_version: str,
    now: float,
    continue_token: str | None = None,
    include: str = "Metadata",
) -> Obj:
    """A `Table` of `objects`; each row carries its object as `include` says (`INCLUDE`)."""
    columns, row = _layout(plural, now)
    rows = [{"cells": row(obj), "object": _row_object(obj, include)} for obj in objects]
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

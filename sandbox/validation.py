"""Type checks on objects written through the API, as a real API server validates them,
for every field the sandbox's controllers read. No I/O.

A wrong type is refused with a 422 naming the field, in the real server's words
(`Deployment.apps "web" is invalid: spec.replicas: Invalid value: ...`), so that
no malformed object reaches the controllers. Unknown fields are left alone, as the
real server does by default; `null` stands for an absent field.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from sandbox import rbac_validation
from sandbox.resources import BY_PLURAL
from sandbox.store import ApiError, Obj
from seal.labels import selector_from_match

# Leaf kinds; a dict is an object schema, a one-element list a list of that schema.
STR, INT, BOOL, MAP = "string", "integer", "boolean", "map of strings"
INT_OR_STR, INT_OR_PERCENT, ANY_OBJECT = "integer or string", "integer or percentage", "object"

META = {
    "name": STR,
    "generateName": STR,
    "namespace": STR,
    "labels": MAP,
    "annotations": MAP,
    "finalizers": [STR],
    "resourceVersion": STR,
    "uid": STR,
    "ownerReferences": [
        {"apiVersion": STR, "kind": STR, "name": STR, "uid": STR, "controller": BOOL}
    ],
}
CONTAINER = {
    "name": STR,
    "image": STR,
    "command": [STR],
    "args": [STR],
    "env": [{"name": STR, "value": STR}],
    "ports": [{"containerPort": INT, "name": STR, "protocol": STR}],
}
POD_SPEC = {
    "nodeName": STR,
    "nodeSelector": MAP,
    "containers": [CONTAINER],
    "initContainers": [CONTAINER],
    "tolerations": [
        {"key": STR, "operator": STR, "value": STR, "effect": STR, "tolerationSeconds": INT}
    ],
    "terminationGracePeriodSeconds": INT,
}
CONDITIONS = [{"type": STR, "status": STR, "reason": STR, "message": STR}]
SELECTOR = {
    "matchLabels": MAP,
    "matchExpressions": [{"key": STR, "operator": STR, "values": [STR]}],
}
TEMPLATE = {"metadata": {"labels": MAP, "annotations": MAP}, "spec": POD_SPEC}
WORKLOAD = {
    "spec": {"replicas": INT, "selector": SELECTOR, "template": TEMPLATE, "minReadySeconds": INT},
    "status": {
        "replicas": INT,
        "readyReplicas": INT,
        "availableReplicas": INT,
        "updatedReplicas": INT,
        "observedGeneration": INT,
        "conditions": CONDITIONS,
    },
}
ENDPOINT_ADDRESS = {"ip": STR, "nodeName": STR, "targetRef": ANY_OBJECT}
SCHEMAS: dict[str, dict[str, Any]] = {
    "pods": {
        "spec": POD_SPEC,
        "status": {
            "phase": STR,
            "podIP": STR,
            "hostIP": STR,
            "conditions": CONDITIONS,
            "containerStatuses": [{"name": STR, "ready": BOOL, "restartCount": INT}],
        },
    },
    "deployments": WORKLOAD,
    "replicasets": WORKLOAD,
    "services": {
        "spec": {
            "type": STR,
            "clusterIP": STR,
            "selector": MAP,
            "ports": [
                {
                    "name": STR,
                    "port": INT,
                    "targetPort": INT_OR_STR,
                    "protocol": STR,
                    "nodePort": INT,
                }
            ],
        }
    },
    "endpoints": {
        "subsets": [
            {
                "addresses": [ENDPOINT_ADDRESS],
                "notReadyAddresses": [ENDPOINT_ADDRESS],
                "ports": [{"name": STR, "port": INT, "protocol": STR}],
            }
        ]
    },
    "nodes": {
        "spec": {
            "providerID": STR,
            "unschedulable": BOOL,
            "taints": [{"key": STR, "value": STR, "effect": STR}],
        },
        "status": {"conditions": CONDITIONS, "addresses": [{"type": STR, "address": STR}]},
    },
    "poddisruptionbudgets": {
        "spec": {
            "minAvailable": INT_OR_PERCENT,
            "maxUnavailable": INT_OR_PERCENT,
            "selector": SELECTOR,
        }
    },
    "events": {
        "involvedObject": {"kind": STR, "name": STR, "namespace": STR, "uid": STR},
        "reason": STR,
        "message": STR,
        "type": STR,
        "count": INT,
    },
    "leases": {
        "spec": {"holderIdentity": STR, "leaseDurationSeconds": INT, "leaseTransitions": INT}
    },
    "configmaps": {"data": MAP, "binaryData": MAP},
    "secrets": {"data": MAP, "stringData": MAP, "type": STR, "immutable": BOOL},
    "namespaces": {"status": {"phase": STR}},
}
_PERCENT = re.compile(r"^[0-9]+%$")
_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _leaf_ok(kind: str, value: object) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == INT:
        return _is_int(value)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == MAP:
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    if kind == INT_OR_STR:
        return _is_int(value) or isinstance(value, str)
    if kind == INT_OR_PERCENT:
        return _is_int(value) or (isinstance(value, str) and bool(_PERCENT.match(value)))
    return isinstance(value, dict)  # ANY_OBJECT


def prune_nulls(value: Any) -> Any:
    """Drop the fields set to null, as the server does: it reads them as absent."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            prune_nulls(item)
    elif isinstance(value, list):
        for item in value:
            prune_nulls(item)
    return value


def _problem(value: object, schema: Any, path: str) -> tuple[str, object, str] | None:
    """The first (path, value, what is wrong) under `path`, or None."""
    if value is None:
        return None
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return path, value, "must be an object"
        for key, sub in schema.items():
            found = _problem(value.get(key), sub, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(schema, list):
        if not isinstance(value, list):
            return path, value, "must be a list"
        for index, item in enumerate(value):
            if item is None:
                return f"{path}[{index}]", item, "must not be null"
            found = _problem(item, schema[0], f"{path}[{index}]")
            if found:
                return found
        return None
    if not _leaf_ok(schema, value):
        return path, value, f"must be {'an' if schema[0] in 'aeiou' else 'a'} {schema}"
    return None


def _ranges(resource: str, obj: Obj) -> tuple[str, object, str] | None:
    """The required fields and value checks beyond types that the controllers rely on."""
    spec = obj.get("spec") or {}
    required: list[tuple[str, object]] = []
    if resource == "pods":
        required = [("spec.containers", spec.get("containers"))]
    elif resource in ("deployments", "replicasets"):
        template = spec.get("template") or {}
        required = [
            ("spec.selector", spec.get("selector")),
            ("spec.template.metadata.labels", (template.get("metadata") or {}).get("labels")),
            ("spec.template.spec.containers", (template.get("spec") or {}).get("containers")),
        ]
    for path, value in required:
        if not value:
            return path, value, "Required value"
    if resource in ("deployments", "replicasets"):
        replicas = spec.get("replicas")
        if replicas is not None and replicas < 0:
            return "spec.replicas", replicas, "must be greater than or equal to 0"
    if resource == "services":
        for index, port in enumerate(spec.get("ports") or []):
            number = port.get("port")
            if number is not None and not 1 <= number <= 65535:
                return f"spec.ports[{index}].port", number, "must be between 1 and 65535, inclusive"
    if resource not in ("deployments", "replicasets", "poddisruptionbudgets"):
        return None
    selector = spec.get("selector") or {}
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        operator = expression.get("operator")
        if operator not in _OPERATORS:
            return (
                f"spec.selector.matchExpressions[{index}].operator",
                operator,
                f"not a valid selector operator (one of {', '.join(sorted(_OPERATORS))})",
            )
    if resource != "poddisruptionbudgets" and selector:
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        matches = selector_from_match(selector.get("matchLabels"), selector.get("matchExpressions"))
        if not matches.matches(labels):
            return (
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
    return None


def validate(resource: str, obj: Obj) -> None:
    """Drop null fields of `obj`, then raise the API's 422 when a field has the wrong
    type or is out of range."""
    prune_nulls(obj)
    rbac_validation.check(resource, obj)
    found = _problem(obj.get("metadata"), META, "metadata") or _problem(
        obj, SCHEMAS.get(resource, {}), ""
    )
    found = found or _ranges(resource, obj)
    if found is None:
        if resource == "secrets":
            _secret_data(obj)
        return
    path, value, what = found
    rtype = BY_PLURAL[resource]
    kind = f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind
    name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get(
        "generateName", ""
    )
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    if len(shown) > 80:
        shown = shown[:77] + "..."
    required = what == "Required value"
    detail = what if required else f"Invalid value: {shown}: {what}"
    raise ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {path}: {detail}',
        {
            "name": name,
            "kind": rtype.kind,
            "causes": [
                {
                    "reason": "FieldValueRequired" if required else "FieldValueInvalid",
                    "message": detail,
                    "field": path,
                }
            ],
        },
    )


def _secret_data(secret: Obj) -> None:
    """A Secret as the API server stores it: of type Opaque unless it says, `data`
    holding base64 (anything else is a 400, as decoding it would be), the write-only
    `stringData` merged into `data`, encoded, its values winning."""
    secret.setdefault("type", "Opaque")
    data = secret.get("data") or {}
    for key, value in data.items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(
                400,
                "BadRequest",
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data '
                f"in data[{key!r}]",
            ) from exc
    plain = secret.pop("stringData", None) or {}
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in plain.items()}
    if data or encoded:
        secret["data"] = {**data, **encoded}

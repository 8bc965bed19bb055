"""JSON merge patch, JSON patch and strategic merge patch, as the API server applies them.

Pure functions on JSON values. Strategic merge knows the merge keys of the lists
chaos tools and kubectl touch (containers and env by name, ports by port...).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.store import ApiError

#: list field name -> the key that identifies an item (strategic merge).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "tolerations": "key",
    "ownerReferences": "uid",
    "hostAliases": "ip",
}
_SERVICE_PORT_KEY = "port"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    key = MERGE_KEYS.get(field)
    if (
        field == "ports"
        and items
        and isinstance(items[0], dict)
        and "containerPort" not in items[0]
    ):
        return _SERVICE_PORT_KEY
    return key


def _strategic_list(field: str, target: list[Any], patch: list[Any]) -> list[Any]:
    key = _merge_key(field, patch) or _merge_key(field, target)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [i for i in copy.deepcopy(patch) if not (isinstance(i, dict) and "$patch" in i)]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [i for i in copy.deepcopy(patch) if "$patch" not in i]
    result = copy.deepcopy(target)
    for item in patch:
        ident = item.get(key)
        index = next(
            (
                n
                for n, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(key) == ident
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(strategic_merge({}, item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge patch for the fields the sandbox knows; `$` directives are honoured
    for delete/replace and otherwise ignored (ordering hints)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _strategic_list(key, result[key], value)
        elif isinstance(value, list):
            result[key] = _strategic_list(key, [], value)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"json patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def _json_patch_op(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    parts = _pointer(str(op.get("path", "")))
    if kind == "test":
        if _walk(doc, parts) != op.get("value"):
            raise ApiError(422, "Invalid", f"json patch test failed at {op.get('path')}")
        return doc
    if kind in ("move", "copy"):
        value = copy.deepcopy(_walk(doc, _pointer(str(op.get("from", "")))))
        if kind == "move":
            doc = _json_patch_op(doc, {"op": "remove", "path": op.get("from")})
        return _json_patch_op(doc, {"op": "add", "path": op.get("path"), "value": value})
    if not parts:
        return copy.deepcopy(op.get("value"))
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if kind == "remove":
        del parent[int(last) if isinstance(parent, list) else last]
    elif kind == "add":
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), op.get("value"))
        else:
            parent[last] = op.get("value")
    elif kind == "replace":
        if isinstance(parent, list):
            parent[int(last)] = op.get("value")
        else:
            if last not in parent:
                raise KeyError(last)
            parent[last] = op.get("value")
    else:
        raise ApiError(422, "Invalid", f"unknown json patch operation {kind!r}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902."""
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "a json patch is a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict):
            raise ApiError(400, "BadRequest", "each json patch operation is an object")
        try:
            doc = _json_patch_op(doc, op)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422, "Invalid", f"json patch {op.get('op')} {op.get('path')}: no such path ({exc})"
            ) from exc
    return doc

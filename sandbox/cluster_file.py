"""Reading cluster description files (YAML) into a `ClusterDescription`.

Reads the file it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sandbox.cluster import ClusterDescription, DeploymentSpec, NodeGroup, ServiceSpec
from seal import bounded_yaml
from seal.errors import DocumentError, UsageError


def _require(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise UsageError(f"{where}.{key}: must be a {kind.__name__}, got {value!r}")
    return value


def _mapping(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where}: must be a mapping of strings")
    return {str(k): str(v) for k, v in value.items()}


def _known_keys(item: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(item) - known
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(sorted(known))}"
        )


def from_mapping(data: Any, source: str) -> ClusterDescription:
    if not isinstance(data, dict):
        raise UsageError(f"{source}: a cluster description is a mapping")
    _known_keys(data, {"namespaces", "nodes", "deployments", "services"}, source)
    groups = []
    for i, item in enumerate(data.get("nodes") or []):
        where = f"{source}: nodes[{i}]"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: must be a mapping")
        _known_keys(item, {"name", "count", "zones", "labels", "taints", "controlPlane"}, where)
        zones = item.get("zones") or ["zone-a"]
        groups.append(
            NodeGroup(
                _require(item, "name", str, where),
                int(item.get("count", 1)),
                tuple(str(z) for z in zones),
                _mapping(item.get("labels"), f"{where}.labels"),
                tuple(_mapping(t, f"{where}.taints") for t in item.get("taints") or []),
                bool(item.get("controlPlane", False)),
            )
        )
    if not groups:
        raise UsageError(f"{source}: nodes: give at least one node group")
    deployments = []
    for i, item in enumerate(data.get("deployments") or []):
        where = f"{source}: deployments[{i}]"
        _known_keys(
            item, {"name", "namespace", "replicas", "labels", "port", "probePath", "env"}, where
        )
        name = _require(item, "name", str, where)
        deployments.append(
            DeploymentSpec(
                name,
                str(item.get("namespace", "default")),
                int(item.get("replicas", 1)),
                _mapping(item.get("labels"), f"{where}.labels") or {"app": name},
                int(item.get("port", 8080)),
                str(item.get("probePath", "/healthz")),
                _mapping(item.get("env"), f"{where}.env"),
            )
        )
    services = []
    for i, item in enumerate(data.get("services") or []):
        where = f"{source}: services[{i}]"
        _known_keys(item, {"name", "namespace", "selector", "ports"}, where)
        ports = tuple(
            (int(p["port"]), int(p.get("targetPort") or p["port"]))
            if isinstance(p, dict)
            else (int(p), int(p))
            for p in item.get("ports") or [80]
        )
        services.append(
            ServiceSpec(
                _require(item, "name", str, where),
                str(item.get("namespace", "default")),
                _mapping(item.get("selector"), f"{where}.selector"),
                ports,
            )
        )
    namespaces = [str(n) for n in data.get("namespaces") or []]
    namespaces += [d.namespace for d in deployments] + [s.namespace for s in services]
    return ClusterDescription(
        tuple(dict.fromkeys(["default", *namespaces])),
        tuple(groups),
        tuple(deployments),
        tuple(services),
    )


def load_file(path: str) -> ClusterDescription:
    try:
        data = bounded_yaml.load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the cluster description: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: the cluster description is not UTF-8 ({exc.reason})") from exc
    except DocumentError as exc:
        raise UsageError(exc.located(path)) from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return from_mapping(data, path)
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(f"{path}: invalid cluster description: {exc}") from exc

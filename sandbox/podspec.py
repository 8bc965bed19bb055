"""What a container of a pod the sandbox runs as a real process is given, worked out from
the pod's spec as the kubelet does: its environment (values, the downward API, ConfigMap
and Secret keys, `$(VAR)` references), its command line, and the files of its volumes.

Reads the store; writes nothing but the files it is asked to materialise.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.store import Obj, Store

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ContainerConfigError(Exception):
    """What keeps a container from starting (its status says CreateContainerConfigError)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: a defined variable is replaced, an undefined
    reference is left as written, `$$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def field(pod: Obj, path: str) -> str:
    """A downward-API `fieldRef.fieldPath` of the pod."""
    metadata, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    simple: dict[str, Any] = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    found = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if found:
        return str((metadata.get(found.group(1)) or {}).get(found.group(2), ""))
    raise ContainerConfigError(f"fieldPath {path!r} is not supported by the sandbox")


def _data(store: Store, kind: str, namespace: str, name: str, optional: bool) -> dict[str, str]:
    resource = "configmaps" if kind == "configMap" else "secrets"
    obj = store.peek(resource, namespace, name)
    if obj is None:
        if optional:
            return {}
        raise ContainerConfigError(f'{kind} "{name}" not found')
    if resource == "configmaps":
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    decoded = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    return {**decoded, **{k: str(v) for k, v in (obj.get("stringData") or {}).items()}}


def _key_ref(store: Store, namespace: str, source: Obj) -> str | None:
    for kind, ref_key in (("configMap", "configMapKeyRef"), ("secret", "secretKeyRef")):
        ref = source.get(ref_key)
        if ref is None:
            continue
        optional = bool(ref.get("optional"))
        data = _data(store, kind, namespace, str(ref.get("name", "")), optional)
        if ref.get("key") not in data:
            if optional:
                return None
            raise ContainerConfigError(
                f"couldn't find key {ref.get('key')} in {kind} {ref.get('name')}"
            )
        return data[str(ref["key"])]
    return None


def environment(store: Store, pod: Obj, container: Obj) -> dict[str, str]:
    """The container's variables, in the order the kubelet sets them: envFrom, then env
    (each value may refer to the variables before it)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix", ""))
        for kind, ref_key in (("configMap", "configMapRef"), ("secret", "secretRef")):
            ref = source.get(ref_key)
            if ref is not None:
                data = _data(
                    store, kind, namespace, str(ref.get("name", "")), bool(ref.get("optional"))
                )
                env.update({prefix + k: v for k, v in data.items()})
    for variable in container.get("env") or []:
        name = str(variable.get("name", ""))
        if "value" in variable:
            env[name] = expand(str(variable["value"]), env)
            continue
        source = variable.get("valueFrom") or {}
        if "fieldRef" in source:
            env[name] = field(pod, str(source["fieldRef"].get("fieldPath", "")))
        elif "resourceFieldRef" in source:
            env[name] = _resource(container, source["resourceFieldRef"])
        else:
            value = _key_ref(store, namespace, source)
            if value is not None:
                env[name] = value
    return env


def _resource(container: Obj, ref: Obj) -> str:
    kind, _, name = str(ref.get("resource", "")).partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(name)
    return str(value if value is not None else 0)


def command_line(container: Obj, entrypoint: list[str], env: Mapping[str, str]) -> list[str]:
    """`command` replaces the image's entrypoint, `args` its arguments; both expanded."""
    command = [expand(str(c), env) for c in container.get("command") or []] or list(entrypoint)
    return command + [expand(str(a), env) for a in container.get("args") or []]


def write_volume(store: Store, pod: Obj, volume: Obj, target: Path) -> None:
    """Materialise a configMap, secret or emptyDir volume's files in `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for kind in ("configMap", "secret"):
        source = volume.get(kind)
        if source is None:
            continue
        name = str(source.get("name" if kind == "configMap" else "secretName", ""))
        data = _data(store, kind, pod["metadata"]["namespace"], name, bool(source.get("optional")))
        items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
        mode = int(source.get("defaultMode", 0o644))
        for item in items:
            if item.get("key") not in data:
                raise ContainerConfigError(f'{kind} "{name}" has no key {item.get("key")!r}')
            path = target / str(item.get("path", item["key"]))
            if (
                path.resolve().parent != target.resolve()
                and target.resolve() not in path.resolve().parents
            ):
                raise ContainerConfigError(
                    f"volume item path {item.get('path')!r} leaves the volume"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data[str(item["key"])])
            path.chmod(int(item.get("mode", mode)))
        return
    if "emptyDir" not in volume:
        kinds = sorted(k for k in volume if k != "name")
        raise ContainerConfigError(
            f"volume {volume.get('name')!r} of type {kinds} is not supported by the sandbox"
        )

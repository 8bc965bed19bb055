"""The clone's Deployment, made from its source and the step's spec. No I/O.

The copy keeps what the user wrote (labels, annotations, the pod template) and leaves
out what the cluster wrote (uid, resourceVersion, status, revision annotations...).
"""

from __future__ import annotations

import copy
from typing import Any

from seal.errors import StepFailed
from seal.steps.clone import toxiproxy
from seal.steps.clone.spec import (
    CloneSpec,
    EnvironmentMutation,
    Mutation,
    ObjectRef,
    TcMutation,
    ToxiproxyMutation,
)

Obj = dict[str, Any]
CHAOS_LABEL, CHAOS_VALUE = "chaos", "true"
#: the label that says a Deployment is a clone seal made
MANAGED_BY, SEAL = "app.kubernetes.io/managed-by", "seal"
#: the run that made the clone: its undo names it, so that it deletes its own clone only
RUN_ANNOTATION = "seal/run-id"
SCENARIO_ANNOTATION = "seal/scenario"
SOURCE_ANNOTATION = "seal/clone-of"
#: metadata the cluster writes, never copied
CLUSTER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "ownerReferences",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "generateName",
)
CLUSTER_ANNOTATION_PREFIXES = ("deployment.kubernetes.io/",)
CLUSTER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def clone_name(source: ObjectRef) -> str:
    return f"{source.name}-chaos"


def is_seal_clone(deployment: Obj) -> bool:
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    return labels.get(MANAGED_BY) == SEAL and bool(annotations.get(RUN_ANNOTATION))


def container_ports(source: Obj) -> list[int]:
    """The TCP ports the source's containers declare, in order, each once."""
    ports: list[int] = []
    for container in _pod_spec(source).get("containers") or []:
        for port in container.get("ports") or []:
            number = port.get("containerPort")
            tcp = port.get("protocol", "TCP") == "TCP"
            if tcp and isinstance(number, int) and number not in ports:
                ports.append(number)
    return ports


def _pod_spec(deployment: Obj) -> Obj:
    spec: Obj = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return spec


def _metadata(source: Obj, name: str, marker: str, scenario: str) -> Obj:
    meta = copy.deepcopy(source.get("metadata") or {})
    for key in CLUSTER_METADATA:
        meta.pop(key, None)
    annotations = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if key not in CLUSTER_ANNOTATIONS and not key.startswith(CLUSTER_ANNOTATION_PREFIXES)
    }
    annotations.update(
        {
            RUN_ANNOTATION: marker,
            SCENARIO_ANNOTATION: scenario,
            SOURCE_ANNOTATION: str(meta.get("name", "")),
        }
    )
    meta["annotations"] = annotations
    meta["labels"] = {**(meta.get("labels") or {}), CHAOS_LABEL: CHAOS_VALUE, MANAGED_BY: SEAL}
    meta["name"] = name
    return meta


def clone_manifest(
    source: Obj, spec: CloneSpec, pod_labels: dict[str, str] | None, marker: str, scenario: str
) -> Obj:
    """The clone of `source`. `pod_labels`: the labels the spec gives its pods (None: the
    source's); either way with `chaos=true`, in the selector too."""
    body = copy.deepcopy(source.get("spec") or {})
    template = body.setdefault("template", {})
    template_meta = template.setdefault("metadata", {})
    selector = body.setdefault("selector", {})
    if pod_labels is None:
        labels = dict(template_meta.get("labels") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), CHAOS_LABEL: "true"}
    else:
        labels = dict(pod_labels)
        body["selector"] = {"matchLabels": {**labels, CHAOS_LABEL: CHAOS_VALUE}}
    labels.pop("pod-template-hash", None)
    template_meta["labels"] = {**labels, CHAOS_LABEL: CHAOS_VALUE}
    for key in ("creationTimestamp", "uid", "resourceVersion"):
        template_meta.pop(key, None)
    body["replicas"] = spec.replicas
    body.pop("paused", None)
    pod_spec = template.setdefault("spec", {})
    ports = container_ports(source)
    for index, mutation in enumerate(spec.mutations):
        _mutate(pod_spec, mutation, index, ports)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(source, clone_name(spec.source), marker, scenario),
        "spec": body,
    }


def _mutate(pod_spec: Obj, mutation: Mutation, index: int, ports: list[int]) -> None:
    if isinstance(mutation, EnvironmentMutation):
        for container in pod_spec.get("containers") or []:
            env = [e for e in container.get("env") or [] if e.get("name") != mutation.name]
            container["env"] = [*env, {"name": mutation.name, "value": mutation.value}]
    elif isinstance(mutation, TcMutation):
        tc: Obj = {
            "name": f"seal-tc-{index}",
            "image": mutation.image,
            "command": list(mutation.command),
            "securityContext": toxiproxy.net_admin(mutation.user),
        }
        if mutation.args:
            tc["args"] = list(mutation.args)
        pod_spec["initContainers"] = [*(pod_spec.get("initContainers") or []), tc]
    else:
        added = toxiproxy.init_containers(mutation, ports)
        pod_spec["initContainers"] = [*(pod_spec.get("initContainers") or []), *added]


def check(source: Obj, spec: CloneSpec) -> None:
    """Refuse, before anything is made, a spec that cannot work on this source."""
    where = f"{spec.source.namespace}/{spec.source.name}"
    ports = container_ports(source)
    names = {c.get("name") for c in _pod_spec(source).get("containers") or []}
    names |= {c.get("name") for c in _pod_spec(source).get("initContainers") or []}
    for mutation in spec.mutations:
        if not isinstance(mutation, ToxiproxyMutation):
            continue
        if toxiproxy.API_PORT in ports:
            raise StepFailed(
                f"Deployment {where} has a container port {toxiproxy.API_PORT}, where the "
                "Toxiproxy sidecar's API listens"
            )
        if any(name and str(name).startswith("seal-") for name in names):
            raise StepFailed(f"Deployment {where} already has seal's containers: is it a clone?")
        for toxic in mutation.toxics:
            port = toxic.target_proxy[len("auto") :]
            declared = {p.name for p in mutation.proxies}
            if toxic.target_proxy in declared or not port.isdigit():
                continue
            if int(port) not in ports:
                raise StepFailed(
                    f"toxic on proxy {toxic.target_proxy} (line {spec.location.line}): port "
                    f"{port} is not a TCP port of the containers of Deployment {where} "
                    f"(they declare: {', '.join(map(str, ports)) or 'none'})"
                )

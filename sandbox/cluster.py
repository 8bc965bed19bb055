"""Cluster descriptions, the built-in presets, and seeding a store with a cluster.

No I/O (files are read by `cluster_file`).
"""

from __future__ import annotations

import copy
import gc
import ipaddress
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from sandbox.controllers import events
from sandbox.controllers.workloads import owner_ref, random_suffix, template_hash
from sandbox.machines import Machine, Machines
from sandbox.podutil import fits, set_condition
from sandbox.store import ApiError, Obj, Store, clone, rfc3339
from seal.errors import UsageError

NODE_NETWORK = ipaddress.ip_network("127.30.0.0/16")
PRESETS = ("demo", "large")
#: a deployment's preset pods started one after the other over this many seconds before
#: the sandbox did
START_SPREAD_SECONDS = 30
#: clusters with more pods are seeded without the events of their pods' start (as a real
#: cluster running for longer than the event TTL), so that a large one starts quickly
SEEDED_EVENTS_MAX_PODS = 5000


@dataclass(frozen=True)
class NodeGroup:
    name: str
    count: int = 1
    zones: tuple[str, ...] = ("zone-a",)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, str], ...] = ()
    control_plane: bool = False


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    namespace: str
    replicas: int
    labels: Mapping[str, str]
    port: int = 8080
    probe_path: str = "/healthz"
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    namespace: str
    selector: Mapping[str, str]
    ports: tuple[tuple[int, int], ...]  # (port, targetPort)


@dataclass(frozen=True)
class ClusterDescription:
    namespaces: tuple[str, ...]
    nodes: tuple[NodeGroup, ...]
    deployments: tuple[DeploymentSpec, ...] = ()
    services: tuple[ServiceSpec, ...] = ()


def demo() -> ClusterDescription:
    zones = ("WEST-1", "WEST-2", "EAST-1")
    control = {"node-role.kubernetes.io/control-plane": ""}
    taint = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    return ClusterDescription(
        namespaces=("default", "kube-system", "myapp"),
        nodes=(
            NodeGroup("master", 3, zones, control, (taint,), control_plane=True),
            NodeGroup("worker", 5, zones),
        ),
        deployments=(
            DeploymentSpec("goldpinger", "default", 3, {"app": "goldpinger"}, 8080),
            DeploymentSpec("my-service", "myapp", 3, {"app": "my-service"}, 80),
        ),
        services=(
            ServiceSpec("goldpinger", "default", {"app": "goldpinger"}, ((8080, 8080),)),
            ServiceSpec("my-service", "myapp", {"app": "my-service"}, ((80, 80),)),
        ),
    )


def large(nodes: int = 2000, pods: int = 50000) -> ClusterDescription:
    """`nodes` workers over 3 zones; `pods` pods in deployments of up to 10,000 pods,
    the first namespace (`bulk-0`) holding at least 10,000 when `pods` allows."""
    if nodes < 1 or pods < 0:
        raise UsageError("--nodes must be >= 1 and --pods >= 0")
    per_namespace = 10_000
    deployments = []
    left, index = pods, 0
    while left > 0:
        size = min(left, 1000)
        namespace = f"bulk-{(pods - left) // per_namespace}"
        deployments.append(DeploymentSpec(f"app-{index}", namespace, size, {"app": f"app-{index}"}))
        left -= size
        index += 1
    namespaces = tuple(
        dict.fromkeys(["default", "kube-system"] + [d.namespace for d in deployments])
    )
    return ClusterDescription(
        namespaces=namespaces,
        nodes=(NodeGroup("node", nodes, ("WEST-1", "WEST-2", "EAST-1")),),
        deployments=tuple(deployments),
    )


def preset(name: str, *, nodes: int | None = None, pods: int | None = None) -> ClusterDescription:
    if name == "demo":
        return demo()
    if name == "large":
        return large(nodes or 2000, pods if pods is not None else 50000)
    raise UsageError(f"unknown sandbox preset {name!r}; known: {', '.join(PRESETS)}")


# ---------------------------------------------------------------- seeding


def _node(group: NodeGroup, index: int, serial: int) -> tuple[Obj, Machine]:
    name = f"{group.name}-{index}" if group.count > 1 else group.name
    zone = group.zones[index % len(group.zones)]
    ip = str(NODE_NETWORK.network_address + 10 + serial)
    machine = Machine(id=f"vm-{serial:05d}", node_name=name, zone=zone, ip=ip)
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": zone.rsplit("-", 1)[0],
        **group.labels,
    }
    node: Obj = {
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": machine.provider_id, "taints": [dict(t) for t in group.taints]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.30.0",
                "kubeProxyVersion": "v1.30.0",
                "osImage": "seal sandbox",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "kernelVersion": "6.1.0-sandbox",
                "containerRuntimeVersion": "sandbox://1.0",
                "machineID": machine.id,
                "systemUUID": machine.id,
                "bootID": machine.id,
            },
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        },
    }
    set_condition(node, "Ready", "True", "KubeletReady", "kubelet is posting ready status")
    return node, machine


def _template(spec: DeploymentSpec) -> Obj:
    container: Obj = {
        "name": spec.name,
        "image": f"sandbox/{spec.name}:latest",
        "ports": [{"containerPort": spec.port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": spec.probe_path, "port": spec.port}},
    }
    if spec.env:
        container["env"] = [{"name": k, "value": v} for k, v in spec.env.items()]
    return {
        "metadata": {"labels": dict(spec.labels)},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 30},
    }


def seed(store: Store, machines: Machines, cluster: ClusterDescription, rng: random.Random) -> None:
    """Put the described cluster in the store, already running (fast, even when large)."""
    # Hundreds of thousands of small dicts make the cyclic collector run over and
    # over while nothing here can form a cycle: pause it, then move what was made
    # out of its way for good.
    gc.disable()
    try:
        _seed(store, machines, cluster, rng)
    finally:
        gc.freeze()
        gc.enable()


def _seed(
    store: Store, machines: Machines, cluster: ClusterDescription, rng: random.Random
) -> None:
    for namespace in cluster.namespaces:
        store.create(
            "namespaces",
            {"metadata": {"name": namespace}, "status": {"phase": "Active"}},
            emit=False,
        )
    nodes: list[Obj] = []
    serial = 0
    for group in cluster.nodes:
        for index in range(group.count):
            node, machine = _node(group, index, serial)
            serial += 1
            machines.add(machine)
            nodes.append(store.create("nodes", node, emit=False))
    with_events = sum(d.replicas for d in cluster.deployments) <= SEEDED_EVENTS_MAX_PODS
    for spec in cluster.deployments:
        _seed_deployment(store, spec, nodes, rng, with_events=with_events)
    for service in cluster.services:
        store.create(
            "services",
            {
                "metadata": {
                    "name": service.name,
                    "namespace": service.namespace,
                    "labels": dict(service.selector),
                },
                "spec": {
                    "selector": dict(service.selector),
                    "type": "ClusterIP",
                    "ports": [
                        {"name": f"p{port}", "port": port, "targetPort": target, "protocol": "TCP"}
                        for port, target in service.ports
                    ],
                },
            },
            emit=False,
        )


def _seed_deployment(
    store: Store,
    spec: DeploymentSpec,
    nodes: list[Obj],
    rng: random.Random,
    *,
    with_events: bool,
) -> None:
    template = _template(spec)
    deployment = store.create(
        "deployments",
        {
            "metadata": {
                "name": spec.name,
                "namespace": spec.namespace,
                "labels": dict(spec.labels),
            },
            "spec": {
                "replicas": spec.replicas,
                "selector": {"matchLabels": dict(spec.labels)},
                "template": template,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            },
        },
        emit=False,
    )
    pod_hash = template_hash(template)
    rs_template = copy.deepcopy(template)
    rs_template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    rs = store.create(
        "replicasets",
        {
            "metadata": {
                "name": f"{spec.name}-{pod_hash}",
                "namespace": spec.namespace,
                "labels": dict(rs_template["metadata"]["labels"]),
                "ownerReferences": [owner_ref(deployment)],
            },
            "spec": {
                "replicas": spec.replicas,
                "template": rs_template,
                "selector": {"matchLabels": dict(rs_template["metadata"]["labels"])},
            },
        },
        emit=False,
    )
    candidates = [n for n in nodes if fits({"spec": {}}, n)] or nodes
    now = store.clock()
    offset = rng.randrange(len(candidates))
    for i in range(spec.replicas):
        node = candidates[(offset + i) % len(candidates)]
        started = int(now) - (spec.replicas - 1 - i) * START_SPREAD_SECONDS // spec.replicas
        for _attempt in range(10):  # a generated name may already be taken
            try:
                pod = store.create(
                    "pods", _running_pod(rs, rs_template, node, rng, started), emit=False
                )
            except ApiError as exc:
                if exc.code != 409:
                    raise
                continue
            pod["metadata"]["creationTimestamp"] = rfc3339(started - 1)
            if with_events:
                _seed_events(store, pod, started)
            break
    # Seeded objects are created settled, so their status is written here once
    # (nothing has been sent or serialised for them yet).
    rs["status"] = {
        "replicas": spec.replicas,
        "fullyLabeledReplicas": spec.replicas,
        "readyReplicas": spec.replicas,
        "availableReplicas": spec.replicas,
        "observedGeneration": 1,
    }
    deployment["status"] = {
        "observedGeneration": 1,
        "replicas": spec.replicas,
        "updatedReplicas": spec.replicas,
        "readyReplicas": spec.replicas,
        "availableReplicas": spec.replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
            },
        ],
    }


def _running_pod(rs: Obj, template: Obj, node: Obj, rng: random.Random, started: int) -> Obj:
    """A pod of `rs` on `node`, scheduled a second before `started` (seconds since the
    epoch), when its containers started."""
    pod = clone(template)
    pod["metadata"].update(
        {
            "name": f"{rs['metadata']['name']}-{random_suffix(rng)}",
            "namespace": rs["metadata"]["namespace"],
            "ownerReferences": [owner_ref(rs)],
        }
    )
    pod["spec"]["nodeName"] = node["metadata"]["name"]
    offset = rng.randrange(2, 2**18 - 2)
    ip = f"127.{20 + (offset >> 16)}.{(offset >> 8) & 255}.{offset & 255}"
    host_ip = node["status"]["addresses"][0]["address"]
    scheduled, running = rfc3339(started - 1), rfc3339(started)
    pod["status"] = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "hostIP": host_ip,
        "startTime": scheduled,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": c["name"],
                "ready": True,
                "restartCount": 0,
                "image": c["image"],
                "imageID": "",
                "started": True,
                "state": {"running": {"startedAt": running}},
            }
            for c in pod["spec"]["containers"]
        ],
    }
    pod["status"]["conditions"] = [
        {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": when}
        for kind, when in (
            ("PodScheduled", scheduled),
            ("Initialized", scheduled),
            ("ContainersReady", running),
            ("Ready", running),
        )
    ]
    return pod


def _seed_events(store: Store, pod: Obj, started: int) -> None:
    """The events a real cluster wrote when the pod was scheduled and started."""
    meta = pod["metadata"]
    events.record(
        store,
        pod,
        "Scheduled",
        f"Successfully assigned {meta['namespace']}/{meta['name']} to {pod['spec']['nodeName']}",
        component="default-scheduler",
        when=rfc3339(started - 1),
        emit=False,
    )
    events.container_started(store, pod, when=rfc3339(started), emit=False)

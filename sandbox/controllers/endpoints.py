"""Services: each gets a cluster IP, and Endpoints listing its Ready pods. No I/O."""

from __future__ import annotations

import copy
import ipaddress

from sandbox.controllers.base import Context, Controller, Key, key_of
from sandbox.podutil import pod_terminating
from sandbox.store import Obj
from seal.labels import selector_from_match

SERVICE_NETWORK = ipaddress.ip_network("127.10.0.0/16")


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def _address(pod: Obj) -> Obj | None:
    """The pod's entry in Endpoints, or None when it is not to receive traffic."""
    ip = pod.get("status", {}).get("podIP")
    if not ip or pod_terminating(pod) or not _ready(pod):
        return None
    meta = pod["metadata"]
    return {
        "ip": ip,
        "nodeName": pod["spec"].get("nodeName"),
        "targetRef": {
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta["uid"],
        },
    }


class _Members:
    """A service's selector and the addresses of the pods it selects, kept from changes."""

    def __init__(self, raw: Obj) -> None:
        self.raw = raw
        self.selector = selector_from_match(raw)
        self.addresses: dict[Key, Obj] = {}

    def update(self, key: Key, pod: Obj | None) -> bool:
        """Take the pod's change (None: it is gone); whether the addresses changed."""
        selected = pod is not None and self.selector.matches(pod["metadata"].get("labels") or {})
        address = _address(pod) if pod is not None and selected else None
        if address is None:
            return self.addresses.pop(key, None) is not None
        if self.addresses.get(key) == address:
            return False
        self.addresses[key] = address
        return True


def _resolved_ports(service: Obj, pod: Obj) -> tuple[tuple[str, int, str], ...] | None:
    """The service's ports as they reach `pod` (name, port number, protocol); None when a
    named targetPort is not one of the pod's container ports."""
    declared = {
        str(p.get("name")): int(p.get("containerPort", 0))
        for c in (pod.get("spec") or {}).get("containers") or []
        for p in c.get("ports") or []
        if p.get("name")
    }
    resolved = []
    for entry in service.get("spec", {}).get("ports") or []:
        target = entry.get("targetPort", entry.get("port"))
        if isinstance(target, str) and not target.isdigit():
            if target not in declared:
                return None
            target = declared[target]
        resolved.append(
            (str(entry.get("name", "")), int(target), str(entry.get("protocol", "TCP")))
        )
    return tuple(resolved)


class EndpointsController(Controller):
    """Each pod change touches only the services of its namespace whose selector picks it
    (or picked it); a service's Endpoints are written from addresses kept as pods change."""

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._used_cluster_ips: set[str] = set()
        #: namespace -> service name -> its members (services with a selector only)
        self._services: dict[str, dict[str, _Members]] = {}
        #: services whose members are to be found again from the pods (new selector)
        self._rebuild: set[Key] = set()
        #: services whose Endpoints are to be written
        self.dirty: set[Key] = set()

    def seed(self) -> None:
        for _, entry in self.store.entries("services"):
            ip = entry.obj.get("spec", {}).get("clusterIP")
            if ip:
                self._used_cluster_ips.add(ip)
        for _, entry in self.store.entries("services"):
            self.observe("ADDED", "services", entry.obj)

    RESOURCES = frozenset({"pods", "services"})

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "pods":
            key = key_of(obj)
            pod = None if event_type == "DELETED" else obj
            for name, members in self._services.get(key[0], {}).items():
                if members.update(key, pod):
                    self.dirty.add((key[0], name))
        elif resource == "services":
            key = key_of(obj)
            if event_type == "ADDED" and not obj.get("spec", {}).get("clusterIP"):
                self.context.later(0, self._assign_cluster_ip, key)
            if event_type == "DELETED":
                self._used_cluster_ips.discard(obj.get("spec", {}).get("clusterIP", ""))
                self.context.later(0, self._drop_endpoints, key)
            self._service_changed(event_type, key, obj)

    def _service_changed(self, event_type: str, key: Key, service: Obj) -> None:
        namespace, name = key
        services = self._services.setdefault(namespace, {})
        raw = service.get("spec", {}).get("selector")
        if event_type == "DELETED" or not raw:
            services.pop(name, None)
            self._rebuild.discard(key)
            self.dirty.discard(key)
            return
        known = services.get(name)
        if known is None or known.raw != raw:
            services[name] = _Members(raw)
            self._rebuild.add(key)
        self.dirty.add(key)  # its ports or labels may have changed

    def reconcile(self) -> None:
        if self._rebuild:
            rebuild, self._rebuild = self._rebuild, set()
            for namespace, name in rebuild:
                members = self._services.get(namespace, {}).get(name)
                if members is not None:
                    for key, entry in self.store.entries("pods", namespace):
                        members.update(key, entry.obj)
        if self.dirty:
            dirty, self.dirty = self.dirty, set()
            for key in sorted(dirty):
                self._sync(key)

    def _assign_cluster_ip(self, key: Key) -> None:
        service = self.store.peek("services", *key)
        if service is None or service.get("spec", {}).get("clusterIP"):
            return
        rng = self.context.rng
        ports = [int(p.get("port", 0)) for p in service.get("spec", {}).get("ports") or []]
        for _ in range(1000):
            offset = rng.randrange(2, SERVICE_NETWORK.num_addresses - 2)
            ip = str(SERVICE_NETWORK.network_address + offset)
            # another sandbox on this machine (same seed, same choices) may hold the address
            if ip not in self._used_cluster_ips and self.context.address_free(ip, ports):
                break
        self._used_cluster_ips.add(ip)

        def assign(obj: Obj) -> None:
            obj["spec"]["clusterIP"] = ip
            obj["spec"]["clusterIPs"] = [ip]
            obj["spec"].setdefault("type", "ClusterIP")

        self.store.mutate("services", *key, assign)

    def _drop_endpoints(self, key: Key) -> None:
        if self.store.peek("endpoints", *key) is not None:
            self.store.remove("endpoints", *key)

    def _sync(self, key: Key) -> None:
        namespace, name = key
        home = self.store.peek("namespaces", "", namespace)
        members = self._services.get(namespace, {}).get(name)
        service = self.store.peek("services", namespace, name)
        if home is None or home["metadata"].get("deletionTimestamp"):
            return
        if members is None or service is None:
            return
        # a named targetPort is each pod's container port of that name: pods that resolve
        # the service's ports alike share a subset; a pod without the name is left out
        grouped: dict[tuple[tuple[str, int, str], ...], list[Obj]] = {}
        for k in sorted(members.addresses):
            pod = self.store.peek("pods", *k) or {}
            ports = _resolved_ports(service, pod)
            if ports is not None:
                grouped.setdefault(ports, []).append(members.addresses[k])
        subsets = [
            {
                "addresses": addresses,
                "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
            }
            for ports, addresses in grouped.items()
        ]
        self._write(service, subsets)

    def _write(self, service: Obj, subsets: list[Obj]) -> None:
        namespace, name = key_of(service)
        current = self.store.peek("endpoints", namespace, name)
        if current is None:
            self.store.create(
                "endpoints",
                {
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": dict(service["metadata"].get("labels") or {}),
                    },
                    "subsets": subsets,
                },
            )
        elif current.get("subsets") != subsets:
            updated = copy.deepcopy(current)
            updated["subsets"] = subsets
            updated["metadata"].pop("resourceVersion", None)
            self.store.update("endpoints", updated)

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


class EndpointsController(Controller):
    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.dirty_namespaces: set[str] = set()
        self._used_cluster_ips: set[str] = set()

    def seed(self) -> None:
        for _, entry in self.store.entries("services"):
            ip = entry.obj.get("spec", {}).get("clusterIP")
            if ip:
                self._used_cluster_ips.add(ip)
        for _, entry in self.store.entries("services"):
            self.observe("ADDED", "services", entry.obj)
        for _, entry in self.store.entries("namespaces"):
            self.dirty_namespaces.add(entry.obj["metadata"]["name"])

    def observe(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource == "pods":
            self.dirty_namespaces.add(key_of(obj)[0])
        elif resource == "services":
            key = key_of(obj)
            if event_type == "ADDED" and not obj.get("spec", {}).get("clusterIP"):
                self.context.later(0, self._assign_cluster_ip, key)
            if event_type == "DELETED":
                self._used_cluster_ips.discard(obj.get("spec", {}).get("clusterIP", ""))
                self.context.later(0, self._drop_endpoints, key)
            self.dirty_namespaces.add(key[0])

    def reconcile(self) -> None:
        if self.dirty_namespaces:
            namespaces, self.dirty_namespaces = self.dirty_namespaces, set()
            for namespace in sorted(namespaces - {""}):
                self._sync(namespace)

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

    def _sync(self, namespace: str) -> None:
        home = self.store.peek("namespaces", "", namespace)
        if home is None or home["metadata"].get("deletionTimestamp"):
            return
        services = [e.obj for _, e in self.store.entries("services", namespace)]
        if not services:
            return
        pods = [e.obj for _, e in self.store.entries("pods", namespace)]
        for service in services:
            raw = service.get("spec", {}).get("selector")
            if not raw:
                continue
            selector = selector_from_match(raw)
            addresses = [
                {
                    "ip": p["status"]["podIP"],
                    "nodeName": p["spec"].get("nodeName"),
                    "targetRef": {
                        "kind": "Pod",
                        "name": p["metadata"]["name"],
                        "namespace": namespace,
                        "uid": p["metadata"]["uid"],
                    },
                }
                for p in pods
                if selector.matches(p["metadata"].get("labels") or {})
                and not pod_terminating(p)
                and _ready(p)
                and p.get("status", {}).get("podIP")
            ]
            ports = [
                {
                    "name": p.get("name", ""),
                    "port": p.get("targetPort", p.get("port")),
                    "protocol": p.get("protocol", "TCP"),
                }
                for p in service.get("spec", {}).get("ports") or []
            ]
            subsets = [{"addresses": addresses, "ports": ports}] if addresses else []
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

